package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"text/template"
	"time"
)

// HTTPPublishConfig configures an HTTPPublisher.
type HTTPPublishConfig struct {
	URL   string
	Token string // sent as "Authorization: Bearer <token>" when set
	// Headers are extra "Name: value" request headers (for example a
	// peer's API key).
	Headers []string
	// Template renders the request body from .Topic and .Data (strings);
	// the function json quotes a value. Default: DefaultPublishTemplate.
	Template string
	// Workers is the number of concurrent requests (default 4).
	Workers int
}

// DefaultPublishTemplate is jetsse's POST /publish body.
const DefaultPublishTemplate = `{"topic":{{json .Topic}},"data":{{json .Data}}}`

// ParsePublishTemplate parses a body template.
func ParsePublishTemplate(s string) (*template.Template, error) {
	return template.New("body").Option("missingkey=error").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).Parse(s)
}

// HTTPPublisher publishes with POST requests from a few worker goroutines,
// which it owns: Close stops them and waits.
type HTTPPublisher struct {
	cfg    HTTPPublishConfig
	tmpl   *template.Template
	header http.Header
	client *http.Client
	ledger *Ledger
	jobs   chan httpJob
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	pending int
	idle    chan struct{} // closed while pending == 0
}

type httpJob struct {
	topic string
	n     uint64
	data  []byte
}

var _ Publisher = (*HTTPPublisher)(nil)

// NewHTTPPublisher starts cfg.Workers workers.
func NewHTTPPublisher(cfg HTTPPublishConfig, l *Ledger) (*HTTPPublisher, error) {
	if cfg.Template == "" {
		cfg.Template = DefaultPublishTemplate
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	tmpl, err := ParsePublishTemplate(cfg.Template)
	if err != nil {
		return nil, fmt.Errorf("publish template: %w", err)
	}
	h, err := publishHeader(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &HTTPPublisher{
		cfg: cfg, tmpl: tmpl, header: h, ledger: l,
		client: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				MaxIdleConnsPerHost: cfg.Workers,
				MaxConnsPerHost:     cfg.Workers,
			},
		},
		jobs: make(chan httpJob, cfg.Workers), ctx: ctx, cancel: cancel,
		idle: make(chan struct{}),
	}
	close(p.idle)
	for range cfg.Workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for j := range p.jobs {
				p.do(j)
				p.done()
			}
		}()
	}
	return p, nil
}

// publishHeader returns the headers of cfg's publish requests: JSON, the
// bearer token, and cfg.Headers, which replace the defaults of the same name
// (e.g. a form Content-Type).
func publishHeader(cfg HTTPPublishConfig) (http.Header, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if cfg.Token != "" {
		h.Set("Authorization", "Bearer "+cfg.Token)
	}
	extra := http.Header{}
	for _, kv := range cfg.Headers {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return nil, fmt.Errorf("publish header %q is not Name: value", kv)
		}
		extra.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	for k, vs := range extra {
		h[k] = vs
	}
	return h, nil
}

// Publish implements Publisher.
func (p *HTTPPublisher) Publish(ctx context.Context, topic string, n uint64, data []byte) error {
	p.mu.Lock()
	if p.pending == 0 {
		p.idle = make(chan struct{})
	}
	p.pending++
	p.mu.Unlock()
	select {
	case p.jobs <- httpJob{topic, n, data}:
		return nil
	case <-ctx.Done():
		p.done()
		return ctx.Err()
	}
}

func (p *HTTPPublisher) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending--
	if p.pending == 0 {
		close(p.idle)
	}
}

func (p *HTTPPublisher) do(j httpJob) {
	var body bytes.Buffer
	if err := p.tmpl.Execute(&body, struct{ Topic, Data string }{j.topic, string(j.data)}); err != nil {
		p.ledger.fail(fmt.Errorf("publish template: %w", err))
		return
	}
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, p.cfg.URL, &body)
	if err != nil {
		p.ledger.fail(err)
		return
	}
	req.Header = p.header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		p.ledger.fail(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		p.ledger.fail(fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b)))
		return
	}
	var r struct {
		ID json.RawMessage `json:"id"`
	}
	var id uint64
	if json.Unmarshal(b, &r) == nil {
		id, _ = parseDecimal(bytes.Trim(r.ID, `"`))
	}
	p.ledger.ack(j.n, id)
}

// Flush implements Publisher.
func (p *HTTPPublisher) Flush(ctx context.Context) error {
	p.mu.Lock()
	idle, pending := p.idle, p.pending
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %d publishes: %w", pending, ctx.Err())
	}
}

// Close implements Publisher.
func (p *HTTPPublisher) Close() error {
	close(p.jobs)
	p.cancel()
	p.wg.Wait()
	p.client.CloseIdleConnections()
	return nil
}
