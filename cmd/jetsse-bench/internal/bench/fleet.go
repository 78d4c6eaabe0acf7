package bench

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// FleetConfig configures a Fleet.
type FleetConfig struct {
	SSE SSEConfig
	// Latency records publish→receive latency of every new event in the
	// Fleet's histogram.
	Latency bool
	// Acks, when set with Latency, also records acknowledgement→receive
	// latency in AckHist: receive time minus the time Acks saw the
	// publish's acknowledgement (Ledger.TrackAckTimes). An event received
	// before its acknowledgement counts as 0 and in BeforeAck.
	Acks *Ledger
	// Reconnect makes a client reconnect, as EventSource does, when its
	// connection ends while its Run context is live, presenting its last
	// id and token. MaxRetries bounds consecutive failed attempts.
	Reconnect  bool
	MaxRetries int
	// RetryDelay is the delay before reconnecting when the server sent no
	// retry field (default 1s).
	RetryDelay time.Duration
}

// Fleet is a set of subscriber clients sharing a configuration, counters
// and a latency histogram. Clients run in goroutines the Fleet owns: Start
// launches one, and Wait returns once every launched goroutine has ended
// (they end when the context given to Start ends, or when reconnecting
// gives up). A Fleet is safe for concurrent use.
type Fleet struct {
	cfg     FleetConfig
	ep      endpoint
	dialers []*net.Dialer
	sem     chan struct{}
	Hist    *Histogram // send → receive
	AckHist *Histogram // acknowledgement → receive (FleetConfig.Acks)

	wg      sync.WaitGroup
	changed chan struct{} // poked after a session, catch-up or end; WaitFor waits on it

	// Counters over all clients, for progress lines and results.
	Ready      atomic.Int64 // Runs that received their first session event
	Failed     atomic.Int64 // Runs that ended without a session event
	NotResumed atomic.Int64 // session events with resumed=false after a token was presented
	Caught     atomic.Int64 // clients that reached their target
	Running    atomic.Int64 // client goroutines running
	ConnErrors atomic.Int64 // dial, write or response head failures
	HTTPErrors atomic.Int64 // non-200 responses
	Reconnects atomic.Int64
	Gaps       atomic.Int64
	Takeovers  atomic.Int64
	BeforeAck  atomic.Int64 // events received before their publish was acknowledged

	errMu  sync.Mutex
	errors map[string]int
}

// NewFleet validates cfg and returns an empty Fleet.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	ep, err := parseEndpoint(cfg.SSE.URL, cfg.SSE.ResumeURL)
	if err != nil {
		return nil, err
	}
	if cfg.SSE.ConnectTimeout <= 0 {
		cfg.SSE.ConnectTimeout = 10 * time.Second
	}
	if cfg.SSE.ReadBuffer < 1024 {
		cfg.SSE.ReadBuffer = 4096
	}
	if cfg.SSE.DialConcurrency <= 0 {
		cfg.SSE.DialConcurrency = 64
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	f := &Fleet{
		cfg:     cfg,
		ep:      ep,
		sem:     make(chan struct{}, cfg.SSE.DialConcurrency),
		Hist:    NewHistogram(),
		AckHist: NewHistogram(),
		changed: make(chan struct{}, 1),
		errors:  map[string]int{},
	}
	n := max(cfg.SSE.SourceIPs, 1)
	if n > 1 && !ep.loopbackSource {
		return nil, errors.New("several source addresses need a 127.x.y.z target")
	}
	for i := range n {
		d := &net.Dialer{Timeout: cfg.SSE.ConnectTimeout}
		if n > 1 {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte((i+1)>>8), byte((i+1)&0xff))}
			d.Control = bindNoPort
		}
		f.dialers = append(f.dialers, d)
	}
	return f, nil
}

// NewClient returns a client for topic; it does nothing until Start.
func (f *Fleet) NewClient(idx int, topic string) *Client {
	c := &Client{fleet: f, idx: idx, topic: topic}
	c.parser = NewParser(c.onEvent)
	if f.cfg.SSE.Attach == AttachFirst {
		c.parser.OnComment = c.attached
	}
	if keys := f.ep.resume.keys; len(keys) > 0 {
		c.captured = make([][]byte, len(keys))
	}
	return c
}

// Start runs c in a goroutine owned by the Fleet until ctx ends (which
// closes its connection) or, with Reconnect, until reconnecting gives up.
// A client runs in at most one goroutine at a time: Start it again only
// after Wait.
func (f *Fleet) Start(ctx context.Context, c *Client) {
	f.wg.Add(1)
	f.Running.Add(1)
	go func() {
		defer f.wg.Done()
		defer f.poke()
		defer f.Running.Add(-1)
		c.run(ctx)
		if !c.gotSess {
			f.Failed.Add(1)
		}
	}()
}

// SetDialConcurrency changes how many connections may be opened at once.
// Call it only while no client runs.
func (f *Fleet) SetDialConcurrency(n int) {
	f.sem = make(chan struct{}, max(n, 1))
}

// Wait waits for every goroutine started by Start.
func (f *Fleet) Wait() { f.wg.Wait() }

// poke wakes WaitFor (coalesced) after a client's session, catch-up or
// end.
func (f *Fleet) poke() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// WaitFor waits until cond holds, re-checking when the fleet changes and at
// least every tick, or until ctx ends.
func (f *Fleet) WaitFor(ctx context.Context, tick time.Duration, cond func() bool) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.changed:
		case <-t.C:
		}
	}
	return nil
}

func (f *Fleet) noteErr(err error) {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	f.errMu.Lock()
	defer f.errMu.Unlock()
	if len(f.errors) < 20 || f.errors[msg] > 0 {
		f.errors[msg]++
	}
}

// Errors returns the distinct error messages seen (at most 20) and how
// often each occurred.
func (f *Fleet) Errors() map[string]int {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	m := make(map[string]int, len(f.errors))
	for k, v := range f.errors {
		m[k] = v
	}
	return m
}
