package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Ack is one acknowledged publish: the publisher's counter and the event id
// the server assigned (0 when the server does not say).
type Ack struct {
	N, ID uint64
}

// Ledger records a run's publishes: how many were sent, acknowledged (with
// their ids) and failed. It is safe for concurrent use.
type Ledger struct {
	Sent   atomic.Uint64
	Acked  atomic.Uint64
	Failed atomic.Uint64
	MaxID  atomic.Uint64 // highest acknowledged id
	MaxN   atomic.Uint64 // highest acknowledged counter

	// ackAt[n] is when counter n was acknowledged (unix nanos), for
	// counters below len(ackAt) (TrackAckTimes).
	ackAt []atomic.Int64

	mu   sync.Mutex
	acks []Ack
	errs map[string]int
}

// TrackAckTimes makes the ledger record when each of the counters 1..n is
// acknowledged (AckAt). Call it before the first publish.
func (l *Ledger) TrackAckTimes(n int) {
	l.ackAt = make([]atomic.Int64, n+1)
}

// AckAt returns when counter n was acknowledged (unix nanos), or 0 when it
// was not (yet) or is not tracked. It is safe to call while publishing.
func (l *Ledger) AckAt(n uint64) int64 {
	if n < uint64(len(l.ackAt)) {
		return l.ackAt[n].Load()
	}
	return 0
}

func (l *Ledger) ack(n, id uint64) {
	if n < uint64(len(l.ackAt)) {
		l.ackAt[n].Store(time.Now().UnixNano())
	}
	l.mu.Lock()
	l.acks = append(l.acks, Ack{N: n, ID: id})
	l.mu.Unlock()
	storeMax(&l.MaxID, id)
	storeMax(&l.MaxN, n)
	l.Acked.Add(1)
}

func (l *Ledger) fail(err error) {
	l.Failed.Add(1)
	msg := err.Error()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.errs == nil {
		l.errs = map[string]int{}
	}
	if len(l.errs) < 20 || l.errs[msg] > 0 {
		l.errs[msg]++
	}
}

func storeMax(a *atomic.Uint64, v uint64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

// Acks returns the acknowledged publishes sorted by counter.
func (l *Ledger) Acks() []Ack {
	l.mu.Lock()
	a := slices.Clone(l.acks)
	l.mu.Unlock()
	slices.SortFunc(a, func(x, y Ack) int { return cmpU64(x.N, y.N) })
	return a
}

// Seqs returns the acknowledged sequences under mode, sorted.
func (l *Ledger) Seqs(mode SeqMode) []uint64 {
	l.mu.Lock()
	s := make([]uint64, len(l.acks))
	for i, a := range l.acks {
		if mode == SeqData {
			s[i] = a.N
		} else {
			s[i] = a.ID
		}
	}
	l.mu.Unlock()
	slices.Sort(s)
	return s
}

// MaxSeq returns the highest acknowledged sequence under mode.
func (l *Ledger) MaxSeq(mode SeqMode) uint64 {
	if mode == SeqData {
		return l.MaxN.Load()
	}
	return l.MaxID.Load()
}

// Errors returns the distinct publish errors (at most 20) with counts.
func (l *Ledger) Errors() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int, len(l.errs))
	for k, v := range l.errs {
		m[k] = v
	}
	return m
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// countAbove returns how many of the sorted seqs are above v.
func countAbove(sorted []uint64, v uint64) int {
	i, found := slices.BinarySearch(sorted, v)
	if found {
		i++
	}
	return len(sorted) - i
}

// Publisher sends events to the server under test and records their
// acknowledgements in the Ledger it was made with.
//
// Publish and Flush may be called from one goroutine at a time; Close ends
// everything the publisher started and must be called once.
type Publisher interface {
	// Publish starts publishing data (counter n) to topic and returns
	// before the server acknowledges it. It blocks while the in-flight
	// limit is reached. A failure is recorded in the Ledger and returned.
	Publish(ctx context.Context, topic string, n uint64, data []byte) error
	// Flush waits until every publish started so far is acknowledged or
	// has failed.
	Flush(ctx context.Context) error
	Close() error
}

// NATSPublisher publishes to JetStream with asynchronous publishes and a
// bounded number in flight.
type NATSPublisher struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
	ledger *Ledger
	stall  time.Duration
}

var _ Publisher = (*NATSPublisher)(nil)

// NewNATSPublisher connects to url and publishes topic t to subject
// <prefix>.t, with at most maxInFlight unacknowledged publishes.
func NewNATSPublisher(url, prefix string, maxInFlight int, l *Ledger) (*NATSPublisher, error) {
	nc, err := nats.Connect(url, nats.Name("jetsse-bench"), nats.MaxReconnects(5))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(max(maxInFlight, 1)),
		jetstream.WithPublishAsyncTimeout(30*time.Second),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, a *jetstream.PubAck) {
			n, _ := PayloadCounter(m.Data)
			l.ack(n, a.Sequence)
		}),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			l.fail(err)
		}),
	)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &NATSPublisher{nc: nc, js: js, prefix: prefix, ledger: l, stall: 10 * time.Second}, nil
}

// Publish implements Publisher.
func (p *NATSPublisher) Publish(_ context.Context, topic string, _ uint64, data []byte) error {
	subj := topic
	if p.prefix != "" {
		subj = p.prefix + "." + topic
	}
	if _, err := p.js.PublishAsync(subj, data, jetstream.WithStallWait(p.stall)); err != nil {
		p.ledger.fail(err)
		return err
	}
	return nil
}

// Flush implements Publisher.
func (p *NATSPublisher) Flush(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %d publish acks: %w", p.js.PublishAsyncPending(), ctx.Err())
	}
}

// Close implements Publisher.
func (p *NATSPublisher) Close() error {
	p.nc.Close()
	return nil
}

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
	h := http.Header{"Content-Type": {"application/json"}}
	if cfg.Token != "" {
		h.Set("Authorization", "Bearer "+cfg.Token)
	}
	// Extra headers replace the defaults of the same name (e.g. a form
	// Content-Type).
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

// PublishPlan says what Drive publishes.
type PublishPlan struct {
	// Topic returns the topic of the event with counter n (1, 2, ...).
	Topic func(n uint64) string
	// Count is the number of events to publish.
	Count uint64
	// Rate is events per second; 0 publishes as fast as the publisher
	// accepts (bounded by its in-flight limit).
	Rate float64
	// Size pads each payload to at least this many bytes.
	Size int
	// First is the first counter (default 1), so that a run publishing in
	// several steps keeps counters, the sequence of --seq data, rising.
	First uint64
}

// Drive publishes plan.Count events, paced by a ticker at plan.Rate, until
// done or ctx ends. It returns without waiting for acknowledgements (see
// Publisher.Flush). Each payload carries its send time and counter.
func Drive(ctx context.Context, p Publisher, l *Ledger, plan PublishPlan) error {
	base := max(plan.First, 1) - 1
	send := func(n uint64) error {
		n += base
		data := AppendPayload(make([]byte, 0, max(plan.Size, 48)), time.Now().UnixNano(), n, plan.Size)
		l.Sent.Add(1)
		err := p.Publish(ctx, plan.Topic(n), n, data)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return nil // other failures are in the ledger
	}
	if plan.Rate <= 0 {
		for n := uint64(1); n <= plan.Count; n++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := send(n); err != nil {
				return err
			}
		}
		return nil
	}
	interval := max(time.Duration(float64(time.Second)/plan.Rate), time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	var n uint64
	for n < plan.Count {
		due := min(uint64(time.Since(start).Seconds()*plan.Rate)+1, plan.Count)
		for n < due {
			n++
			if err := send(n); err != nil {
				return err
			}
		}
		if n == plan.Count {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
