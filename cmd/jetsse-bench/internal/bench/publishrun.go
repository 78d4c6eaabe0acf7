package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublishParams configure a publish run.
type PublishParams struct {
	K       int `json:"k"`       // events published (after the warm-up)
	Size    int `json:"size"`    // payload bytes
	Workers int `json:"workers"` // concurrent publishers
	// Batch is the number of events per HTTP request (1: POST one event
	// per request; more: jetsse's batch form {"events":[…]}).
	Batch int `json:"batch"`
	// Window, for NATS, is the number of asynchronous publishes in flight
	// (0: every worker publishes synchronously, waiting for each ack).
	Window int `json:"window"`
	// Warmup events are published the same way to another topic before
	// the measured ones, so connections and the stream's files exist.
	Warmup int `json:"warmup"`
	// Verify is "stream" (count what the stream holds on the run's topic,
	// over NATS) or "acks" (trust the acknowledgements: peers).
	Verify string `json:"verify"`
	// Stream is the JetStream stream that Verify stream reads.
	Stream string `json:"stream"`
}

// PublishResult is one publish run.
type PublishResult struct {
	Header
	Params PublishParams `json:"params"`
	// Path names what carried the events: "http" (one event per POST),
	// "http-batch" (Batch events per POST), "nats" (synchronous JetStream
	// publishes) or "nats-async" (Window in flight).
	Path  string `json:"path"`
	Topic string `json:"topic"`

	Sent     uint64 `json:"sent"`
	Accepted uint64 `json:"accepted"` // acknowledged: an event ID came back
	Failed   uint64 `json:"failed"`
	Requests uint64 `json:"requests"` // HTTP requests or NATS publishes

	PublishS     float64 `json:"publish_s"`      // first send → last answer
	EventsPerS   float64 `json:"events_per_s"`   // accepted / publish_s
	RequestsPerS float64 `json:"requests_per_s"` // requests / publish_s
	// Latency is per request, send → answer (for a batch: the whole
	// batch; for async NATS publishes: send → ack of each).
	Latency Latency `json:"latency"`

	// Server CPU over the publish window, when --pid is given.
	ServerCPUS     *float64 `json:"server_cpu_s"`
	CPUUsPerEvent  *float64 `json:"server_cpu_us_per_event"`
	ServerRSSKiB   *uint64  `json:"server_rss_kib"`
	ToolCPUS       *float64 `json:"tool_cpu_s"`
	ToolCPUUsPerEv *float64 `json:"tool_cpu_us_per_event"`

	// Stream is what the stream holds afterwards (Verify stream).
	Stream *StreamCheck `json:"stream,omitempty"`
}

// StreamCheck compares what was acknowledged with what the stream holds.
type StreamCheck struct {
	OnTopic  uint64 `json:"on_topic"`  // events stored on the run's topic
	SeqDelta uint64 `json:"seq_delta"` // stream last sequence after − before
	// DistinctIDs counts the distinct acknowledged event IDs; IDsInRange
	// those within (last sequence before, last sequence after].
	DistinctIDs uint64 `json:"distinct_ids"`
	IDsInRange  uint64 `json:"ids_in_range"`
	// OK: the stream holds exactly the accepted events on the topic, each
	// under its own acknowledged ID.
	OK bool `json:"ok"`
}

// publishPath is one way of publishing. start says where outcomes go;
// do publishes the events with the counters ns (one request, or one
// publish each) and records each one's outcome in the ledger, and their
// latency in the histogram when it waited for them; wait waits for those
// still in flight. do is called from several workers at once.
type publishPath interface {
	start(l *Ledger, h *Histogram)
	// requests is how many requests do makes for n events.
	requests(n int) int
	do(ctx context.Context, worker int, topic string, ns []uint64, data [][]byte) error
	wait(ctx context.Context) error
	close()
}

// Publish publishes p.K events of p.Size bytes to a fresh topic with
// p.Workers concurrent publishers along the configured path, as fast as
// they are acknowledged, then checks what the stream holds (Verify
// stream).
func Publish(ctx context.Context, env *Env, p PublishParams) (*PublishResult, error) {
	if p.K <= 0 || p.Workers <= 0 || p.Batch <= 0 || p.Window < 0 || p.Warmup < 0 {
		return nil, errors.New("publish needs k, workers and batch > 0, window and warmup ≥ 0")
	}
	if p.Verify != "stream" && p.Verify != "acks" {
		return nil, fmt.Errorf("verify %q is not stream or acks", p.Verify)
	}
	if p.Stream == "" {
		p.Stream = "EVENTS"
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	res := &PublishResult{Header: env.header("publish"), Params: p, Topic: RunTopic("publish")}

	var path publishPath
	var err error
	switch {
	case env.Publish.Via == "http" && p.Batch > 1:
		res.Path = "http-batch"
		path, err = newHTTPPath(env.Publish.HTTP, p.Workers, true)
	case env.Publish.Via == "http":
		res.Path = "http"
		path, err = newHTTPPath(env.Publish.HTTP, p.Workers, false)
	case p.Batch > 1:
		return nil, errors.New("--batch needs --publisher http")
	case p.Window > 0:
		res.Path = "nats-async"
		path, err = newNATSPath(env.Publish.NATSURL, env.Publish.Prefix, p.Window)
	default:
		res.Path = "nats"
		path, err = newNATSPath(env.Publish.NATSURL, env.Publish.Prefix, 0)
	}
	if err != nil {
		return nil, err
	}
	defer path.close()

	var check *streamChecker
	if p.Verify == "stream" {
		if check, err = newStreamChecker(ctx, env.Publish.NATSURL, p.Stream, env.Publish.Prefix+"."+res.Topic); err != nil {
			return nil, err
		}
		defer check.close()
	}

	if p.Warmup > 0 {
		warm := &Ledger{}
		if _, err := runPublish(ctx, env, path, warm, p, RunTopic("publish-warmup"), p.Warmup, NewHistogram(), nil); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if warm.Failed.Load() > 0 {
			return nil, fmt.Errorf("warm-up: %d of %d publishes failed: %v", warm.Failed.Load(), p.Warmup, warm.Errors())
		}
	}
	if check != nil {
		if err := check.before(ctx); err != nil {
			return nil, err
		}
	}

	ledger := &Ledger{}
	hist := NewHistogram()
	stopProgress := env.startProgress(func() string {
		return fmt.Sprintf("publish %s workers=%d sent=%d accepted=%d failed=%d",
			res.Path, p.Workers, ledger.Sent.Load(), ledger.Acked.Load(), ledger.Failed.Load())
	})
	defer stopProgress()

	self := Procs{PIDs: []int{os.Getpid()}}
	cpu0, err := cpuNow(env.Procs)
	if err != nil {
		return nil, err
	}
	tool0, toolErr := self.CPUSeconds()
	var requests atomic.Uint64
	took, runErr := runPublish(ctx, env, path, ledger, p, res.Topic, p.K, hist, &requests)
	cpu1, err := cpuNow(env.Procs)
	if err != nil {
		return nil, err
	}
	tool1, toolErr2 := self.CPUSeconds()
	stopProgress()

	res.Sent, res.Accepted, res.Failed = ledger.Sent.Load(), ledger.Acked.Load(), ledger.Failed.Load()
	res.Requests = requests.Load()
	res.PublishS = secs(took)
	if took > 0 {
		res.EventsPerS = round3(float64(res.Accepted) / took.Seconds())
		res.RequestsPerS = round3(float64(res.Requests) / took.Seconds())
	}
	res.Latency = hist.Summary()
	if env.Procs.Enabled() {
		res.ServerCPUS = ptr(round3(cpu1 - cpu0))
		if res.Accepted > 0 {
			res.CPUUsPerEvent = ptr(round3((cpu1 - cpu0) * 1e6 / float64(res.Accepted)))
		}
		rss, err := env.Procs.RSSKiB()
		if err != nil {
			return nil, err
		}
		res.ServerRSSKiB = &rss
	}
	if toolErr == nil && toolErr2 == nil {
		res.ToolCPUS = ptr(round3(tool1 - tool0))
		if res.Accepted > 0 {
			res.ToolCPUUsPerEv = ptr(round3((tool1 - tool0) * 1e6 / float64(res.Accepted)))
		}
	}
	complete := runErr == nil && res.Accepted == uint64(p.K)
	if check != nil {
		sc, err := check.after(context.WithoutCancel(ctx), ledger)
		if err != nil {
			return nil, err
		}
		res.Stream = sc
		complete = complete && sc.OK
	}
	res.addErrors(ledger.Errors())
	if runErr != nil {
		res.addErrors(map[string]int{runErr.Error(): 1})
	}
	res.finish(complete)
	return res, nil
}

// runPublish has p.Workers workers publish count events (counters 1..count)
// to topic along path, p.Batch at a time, and returns the time from the
// first send to the last answer.
func runPublish(ctx context.Context, env *Env, path publishPath, l *Ledger, p PublishParams, topic string, count int, hist *Histogram, requests *atomic.Uint64) (time.Duration, error) {
	var next atomic.Uint64
	var wg sync.WaitGroup
	path.start(l, hist)
	start := time.Now()
	var firstErr error
	var errOnce sync.Once
	for w := range p.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := make([]uint64, 0, p.Batch)
			data := make([][]byte, 0, p.Batch)
			for ctx.Err() == nil {
				hi := next.Add(uint64(p.Batch))
				lo := hi - uint64(p.Batch) + 1
				if lo > uint64(count) {
					return
				}
				ns, data = ns[:0], data[:0]
				now := time.Now().UnixNano()
				for n := lo; n <= min(hi, uint64(count)); n++ {
					ns = append(ns, n)
					data = append(data, AppendPayload(make([]byte, 0, max(p.Size, 48)), now, n, p.Size))
				}
				l.Sent.Add(uint64(len(ns)))
				err := path.do(ctx, w, topic, ns, data)
				if requests != nil {
					requests.Add(uint64(path.requests(len(ns))))
				}
				if err != nil && ctx.Err() != nil {
					errOnce.Do(func() { firstErr = ctx.Err() })
					return
				} // other failures are in the ledger
			}
		}()
	}
	wg.Wait()
	if err := path.wait(ctx); err != nil && firstErr == nil {
		firstErr = err
	}
	return time.Since(start), firstErr
}

// httpPath POSTs events to a publish URL: one per request with the body
// template, or a batch per request as jetsse's {"events":[…]} of them.
type httpPath struct {
	cfg    HTTPPublishConfig
	tmpl   *template.Template
	header http.Header
	client *http.Client
	batch  bool
	bufs   []bytes.Buffer // one per worker
	ledger *Ledger
	hist   *Histogram
}

func newHTTPPath(cfg HTTPPublishConfig, workers int, batch bool) (*httpPath, error) {
	if cfg.Template == "" {
		cfg.Template = DefaultPublishTemplate
	}
	tmpl, err := ParsePublishTemplate(cfg.Template)
	if err != nil {
		return nil, fmt.Errorf("publish template: %w", err)
	}
	header, err := publishHeader(cfg)
	if err != nil {
		return nil, err
	}
	return &httpPath{
		cfg: cfg, tmpl: tmpl, header: header, batch: batch,
		client: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				MaxIdleConnsPerHost: workers,
				MaxConnsPerHost:     workers,
			},
		},
		bufs: make([]bytes.Buffer, workers),
	}, nil
}

func (h *httpPath) start(l *Ledger, hist *Histogram) { h.ledger, h.hist = l, hist }

func (h *httpPath) requests(int) int { return 1 }

func (h *httpPath) do(ctx context.Context, worker int, topic string, ns []uint64, data [][]byte) error {
	body := &h.bufs[worker]
	body.Reset()
	if h.batch {
		body.WriteString(`{"events":[`)
	}
	for i := range ns {
		if i > 0 {
			body.WriteByte(',')
		}
		if err := h.tmpl.Execute(body, struct{ Topic, Data string }{topic, string(data[i])}); err != nil {
			return h.failAll(ns, fmt.Errorf("publish template: %w", err))
		}
	}
	if h.batch {
		body.WriteString(`]}`)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body.Bytes()))
	if err != nil {
		return h.failAll(ns, err)
	}
	req.Header = h.header.Clone()
	begin := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		return h.failAll(ns, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	h.hist.Record(worker, time.Since(begin))
	if !h.batch {
		if resp.StatusCode/100 != 2 {
			return h.failAll(ns, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b)))
		}
		var r struct {
			ID json.RawMessage `json:"id"`
		}
		var id uint64
		if json.Unmarshal(b, &r) == nil {
			id, _ = parseDecimal(bytes.Trim(r.ID, `"`))
		}
		h.ledger.ack(ns[0], id)
		return nil
	}
	// A batch answers {"ids":[…]}, in order; after a partial failure the
	// stored ones are listed and the error says why the rest were not.
	var r struct {
		IDs   []string `json:"ids"`
		Error string   `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return h.failAll(ns, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b)))
	}
	for i, n := range ns {
		if i < len(r.IDs) {
			if id, ok := parseDecimal([]byte(r.IDs[i])); ok {
				h.ledger.ack(n, id)
				continue
			}
		}
		if resp.StatusCode/100 == 2 {
			h.ledger.fail(fmt.Errorf("batch answered %d ids for %d events", len(r.IDs), len(ns)))
		} else {
			h.ledger.fail(fmt.Errorf("HTTP %d: %s", resp.StatusCode, r.Error))
		}
	}
	if len(r.IDs) < len(ns) {
		return errors.New("batch partly failed")
	}
	return nil
}

func (h *httpPath) failAll(ns []uint64, err error) error {
	for range ns {
		h.ledger.fail(err)
	}
	return err
}

func (h *httpPath) wait(context.Context) error { return nil }

func (h *httpPath) close() { h.client.CloseIdleConnections() }

// natsPath publishes to JetStream over one NATS connection, as the edge
// does: synchronously (each worker waits for its ack), or asynchronously
// with window publishes in flight over all workers.
type natsPath struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
	window int
	// Where the asynchronous acks go (start).
	out atomic.Pointer[natsOut]
}

type natsOut struct {
	ledger *Ledger
	hist   *Histogram
}

func newNATSPath(url, prefix string, window int) (*natsPath, error) {
	nc, err := nats.Connect(url, nats.Name("jetsse-bench publish"), nats.MaxReconnects(5))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	p := &natsPath{nc: nc, prefix: prefix, window: window}
	opts := []jetstream.JetStreamOpt{jetstream.WithPublishAsyncTimeout(30 * time.Second)}
	if window > 0 {
		opts = append(opts,
			jetstream.WithPublishAsyncMaxPending(window),
			jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, a *jetstream.PubAck) {
				o := p.out.Load()
				n, _ := PayloadCounter(m.Data)
				if t, ok := PayloadTime(m.Data); ok {
					o.hist.Record(int(n), time.Since(time.Unix(0, t)))
				}
				o.ledger.ack(n, a.Sequence)
			}),
			jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
				p.out.Load().ledger.fail(err)
			}),
		)
	}
	if p.js, err = jetstream.New(nc, opts...); err != nil {
		nc.Close()
		return nil, err
	}
	return p, nil
}

func (p *natsPath) start(l *Ledger, h *Histogram) { p.out.Store(&natsOut{l, h}) }

func (p *natsPath) requests(n int) int { return n }

func (p *natsPath) do(ctx context.Context, worker int, topic string, ns []uint64, data [][]byte) error {
	o := p.out.Load()
	subj := topic
	if p.prefix != "" {
		subj = p.prefix + "." + topic
	}
	for i, n := range ns {
		if p.window > 0 {
			if _, err := p.js.PublishAsync(subj, data[i], jetstream.WithStallWait(10*time.Second)); err != nil {
				o.ledger.fail(err)
				return err
			}
			continue
		}
		begin := time.Now()
		ack, err := p.js.Publish(ctx, subj, data[i])
		if err != nil {
			o.ledger.fail(err)
			return err
		}
		o.hist.Record(worker, time.Since(begin))
		o.ledger.ack(n, ack.Sequence)
	}
	return nil
}

// wait waits for the asynchronous publishes in flight.
func (p *natsPath) wait(ctx context.Context) error {
	if p.window == 0 {
		return nil
	}
	select {
	case <-p.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %d publish acks: %w", p.js.PublishAsyncPending(), ctx.Err())
	}
}

func (p *natsPath) close() { p.nc.Close() }

// streamChecker reads the stream before and after a run over its own NATS
// connection.
type streamChecker struct {
	nc      *nats.Conn
	stream  jetstream.Stream
	subject string
	last0   uint64
}

func newStreamChecker(ctx context.Context, url, stream, subject string) (*streamChecker, error) {
	nc, err := nats.Connect(url, nats.Name("jetsse-bench verify"), nats.MaxReconnects(5))
	if err != nil {
		return nil, fmt.Errorf("--verify stream: connecting to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("--verify stream: stream %s: %w", stream, err)
	}
	return &streamChecker{nc: nc, stream: s, subject: subject}, nil
}

func (c *streamChecker) before(ctx context.Context) error {
	info, err := c.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("--verify stream: %w", err)
	}
	c.last0 = info.State.LastSeq
	return nil
}

func (c *streamChecker) after(ctx context.Context, l *Ledger) (*StreamCheck, error) {
	info, err := c.stream.Info(ctx, jetstream.WithSubjectFilter(c.subject))
	if err != nil {
		return nil, fmt.Errorf("--verify stream: %w", err)
	}
	sc := &StreamCheck{OnTopic: info.State.Subjects[c.subject], SeqDelta: info.State.LastSeq - c.last0}
	ids := l.Seqs(SeqID)
	ids = slices.Compact(ids)
	sc.DistinctIDs = uint64(len(ids))
	for _, id := range ids {
		if id > c.last0 && id <= info.State.LastSeq {
			sc.IDsInRange++
		}
	}
	acked := l.Acked.Load()
	sc.OK = sc.OnTopic == acked && sc.DistinctIDs == acked && sc.IDsInRange == acked
	return sc, nil
}

func (c *streamChecker) close() { c.nc.Close() }
