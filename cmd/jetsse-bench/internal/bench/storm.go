package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// StormParams configure a storm run.
type StormParams struct {
	N int `json:"n"`
	// Within spreads the reconnects evenly over this window.
	Within time.Duration `json:"-"`
	// Rate is the publish rate (events/s) kept up before, during and after
	// the storm.
	Rate float64 `json:"rate"`
	Size int     `json:"size"`
	// Present is what reconnecting sessions present: "both" (Last-Event-ID
	// and the Jetsse-Session header), "id" or "token".
	Present string `json:"present"`
}

// StormResult is one storm run.
type StormResult struct {
	Header
	Params struct {
		StormParams
		WithinS float64 `json:"within_s"`
	} `json:"params"`
	Topic string `json:"topic"`

	Sessions    int64 `json:"sessions"`    // attached before the storm
	Reconnected int64 `json:"reconnected"` // attached again after it
	NotResumed  int64 `json:"not_resumed"` // session events with resumed=false
	// From the moment every connection was dropped.
	AllResumedS  *float64 `json:"all_resumed_s"`   // until every session had a new event
	AllCaughtUpS *float64 `json:"all_caught_up_s"` // until every session was caught up
	// Per session, from its reconnect request.
	FirstEventMs Spread `json:"first_event_ms"`
	CatchUpMs    Spread `json:"catch_up_ms"`

	HTTPErrors int64 `json:"http_errors"`
	ConnErrors int64 `json:"connect_errors"`
	Retries    int64 `json:"retries"`
	Gaps       int64 `json:"gaps"`
	Takeovers  int64 `json:"takeovers"`

	Published     uint64 `json:"published"` // acknowledged, whole run
	PublishFailed uint64 `json:"publish_failed"`
	Expected      uint64 `json:"expected"` // events each session should get after the drop, summed
	Received      uint64 `json:"received"`
	Lost          uint64 `json:"lost"`
	Dup           uint64 `json:"dup"`

	ServerCPUS *float64 `json:"server_cpu_s"` // drop → all caught up
}

// Storm attaches p.N sessions to one topic while events are published at
// p.Rate, drops every connection at once, and reconnects them spread over
// p.Within, each presenting its last id and/or token. Caught up means a
// session has every event acknowledged before its reconnect request and at
// least one event after it. Losses and duplicates are counted per session
// against the acknowledged sequences above its last id before the drop.
func Storm(ctx context.Context, env *Env, p StormParams) (*StormResult, error) {
	if p.N <= 0 || p.Rate <= 0 {
		return nil, errors.New("storm needs n > 0 and rate > 0")
	}
	presentID, via, err := stormPresent(&p)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	s, err := newStorm(env, p)
	if err != nil {
		return nil, err
	}
	defer s.pub.Close()
	stopProgress := env.startProgress(s.status)
	defer stopProgress()

	// Phase 1: attach every session, publish until the end, and wait until
	// every session has an event.
	ctx1, stop1 := context.WithCancel(ctx)
	defer stop1()
	waitAll := func() {
		stop1()
		s.fleet.Wait()
	}
	if err := s.attach(ctx, ctx1); err != nil {
		waitAll()
		return nil, fmt.Errorf("attaching %d sessions (%d attached): %w", p.N, s.fleet.Ready.Load(), err)
	}
	stopPublisher := s.publish(ctx)
	defer stopPublisher()
	if err := s.warm(ctx); err != nil {
		waitAll()
		return nil, fmt.Errorf("waiting for a first event on every session: %w", err)
	}

	// Phase 2, the storm: drop everything, then reconnect spread over
	// Within.
	s.setPhase("storm")
	s.start = time.Now()
	cpu0, err := cpuNow(env.Procs)
	if err != nil {
		waitAll()
		return nil, err
	}
	waitAll()
	s.drop(presentID, via)
	ctx2, stop2 := context.WithCancel(ctx)
	defer stop2()
	schedDone := s.reconnect(ctx2)
	phase2Done := func() {
		stop2()
		<-schedDone
		s.fleet.Wait()
	}
	complete := s.waitCaughtUp(ctx)
	cpu1, err := cpuNow(env.Procs)
	if err != nil {
		phase2Done()
		return nil, err
	}

	// Phase 3: stop publishing and let every session receive the rest.
	s.setPhase("drain")
	stopPublisher()
	if !s.drain(ctx) {
		complete = false
	}
	phase2Done()
	stopProgress()

	s.tally(cpu1 - cpu0)
	s.res.finish(complete)
	return s.res, nil
}

// stormPresent returns what reconnecting sessions present for p.Present,
// which it sets to "both" when empty.
func stormPresent(p *StormParams) (presentID bool, via TokenVia, err error) {
	switch p.Present {
	case "both", "":
		p.Present, presentID, via = "both", true, TokenHeader
	case "id":
		presentID = true
	case "token":
		via = TokenHeader
	default:
		return false, TokenNone, fmt.Errorf("storm present %q is not both, id or token", p.Present)
	}
	return presentID, via, nil
}

// storm is the state of one Storm run, shared by its phases. Its methods
// run on Storm's goroutine, except status (progress lines).
type storm struct {
	env     *Env
	p       StormParams
	mode    SeqMode
	res     *StormResult
	fleet   *Fleet
	ledger  *Ledger
	pub     Publisher
	clients []*Client

	phaseMu sync.Mutex
	phase   string // for progress lines

	// Set when the connections are dropped.
	start time.Time // the drop
	part  []*Client // the sessions attached before it, which reconnect
	// Per client index: last sequence, new events and duplicates before
	// the drop.
	lastBefore, recvBefore, dupBefore []uint64
	before                            stormCounts
}

// stormCounts are the fleet's counters at the drop.
type stormCounts struct {
	http, conn, retry, gaps, takeovers, notResumed, ready int64
}

// newStorm makes the run's result, fleet, publisher and clients; the
// clients present their last id and the Jetsse-Session header.
func newStorm(env *Env, p StormParams) (*storm, error) {
	s := &storm{
		env: env, p: p, mode: env.SSE.Seq, phase: "attach",
		res: &StormResult{Header: env.header("storm"), Topic: RunTopic("storm")},
	}
	s.res.Params.StormParams, s.res.Params.WithinS = p, p.Within.Seconds()
	fleet, err := NewFleet(FleetConfig{SSE: env.SSE, Reconnect: true, MaxRetries: 5})
	if err != nil {
		return nil, err
	}
	s.fleet, s.ledger = fleet, &Ledger{}
	if s.pub, err = env.NewPublisher(s.ledger); err != nil {
		return nil, err
	}
	s.clients = make([]*Client, p.N)
	for i := range s.clients {
		c := fleet.NewClient(i, s.res.Topic)
		c.PresentID, c.PresentToken = true, TokenHeader
		s.clients[i] = c
	}
	return s, nil
}

func (s *storm) setPhase(ph string) {
	s.phaseMu.Lock()
	s.phase = ph
	s.phaseMu.Unlock()
}

// status is the progress line.
func (s *storm) status() string {
	s.phaseMu.Lock()
	ph := s.phase
	s.phaseMu.Unlock()
	f := s.fleet
	recv, dup := sumRecv(s.clients)
	return fmt.Sprintf("storm N=%d phase=%s attached=%d running=%d caught=%d published=%d recv=%d dup=%d http_errors=%d conn_errors=%d",
		s.p.N, ph, f.Ready.Load(), f.Running.Load(), f.Caught.Load(), s.ledger.Acked.Load(),
		recv, dup, f.HTTPErrors.Load(), f.ConnErrors.Load())
}

// attach starts every client under runCtx and waits, bounded by ctx,
// until each attached or gave up.
func (s *storm) attach(ctx, runCtx context.Context) error {
	for _, c := range s.clients {
		s.fleet.Start(runCtx, c)
	}
	return s.fleet.WaitFor(ctx, 100*time.Millisecond, func() bool {
		return s.fleet.Ready.Load()+s.fleet.Failed.Load() >= int64(s.p.N)
	})
}

// publish publishes at p.Rate until the run's end, and returns the
// function that stops publishing and waits for it (it may be called more
// than once).
func (s *storm) publish(ctx context.Context) (stop func()) {
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- Drive(pubCtx, s.pub, s.ledger, PublishPlan{
			Topic: func(uint64) string { return s.res.Topic },
			Count: uint64(s.p.Rate*s.env.Timeout.Seconds()) + 1, Rate: s.p.Rate, Size: s.p.Size,
		})
	}()
	var once sync.Once
	return func() { once.Do(func() { stopPub(); <-pubDone }) }
}

// warm waits until every attached session has received an event.
func (s *storm) warm(ctx context.Context) error {
	s.setPhase("warm")
	return s.fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		var n int64
		for _, c := range s.clients {
			if c.Recv.Load() > 0 {
				n++
			}
		}
		return n >= s.fleet.Ready.Load()
	})
}

// drop runs once every connection has ended: it records where each
// session was and the fleet's counters, and readies the sessions that were
// attached to reconnect presenting presentID and via.
func (s *storm) drop(presentID bool, via TokenVia) {
	n := len(s.clients)
	s.lastBefore, s.recvBefore, s.dupBefore = make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i, c := range s.clients {
		s.lastBefore[i], s.recvBefore[i], s.dupBefore[i] = c.LastSeq.Load(), c.Recv.Load(), c.Dup.Load()
		if c.Attached() {
			s.part = append(s.part, c)
		}
	}
	s.res.Sessions = int64(len(s.part))
	f := s.fleet
	s.before = stormCounts{
		http: f.HTTPErrors.Load(), conn: f.ConnErrors.Load(), retry: f.Reconnects.Load(),
		gaps: f.Gaps.Load(), takeovers: f.Takeovers.Load(), notResumed: f.NotResumed.Load(),
		ready: f.Ready.Load(),
	}
	f.Caught.Store(0)
	for _, c := range s.part {
		c.ResetPhase()
		c.PresentID, c.PresentToken = presentID, via
	}
}

// reconnect starts the dropped sessions again under ctx, reconnect i at
// start + i × Within / len(part), each caught up at the last sequence
// acknowledged by then (and at least one above its last). The returned
// channel is closed once every reconnect started or ctx ended.
func (s *storm) reconnect(ctx context.Context) <-chan struct{} {
	// A real storm is not throttled: only the spread over Within limits the
	// reconnect rate (up to the usual accept queue length in flight).
	s.fleet.SetDialConcurrency(max(s.env.SSE.DialConcurrency, 4096))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(time.Hour)
		defer t.Stop()
		for i, c := range s.part {
			due := s.start.Add(time.Duration(int64(s.p.Within) * int64(i) / int64(len(s.part))))
			if d := time.Until(due); d > 0 {
				t.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
			c.SetTarget(max(s.ledger.MaxSeq(s.mode), s.lastBefore[c.idx]+1))
			s.fleet.Start(ctx, c)
		}
	}()
	return done
}

// waitCaughtUp waits until every reconnected session is caught up, or,
// after Within, until deliveries stall; it reports whether all were.
func (s *storm) waitCaughtUp(ctx context.Context) bool {
	watch := newProgressWatch(s.env.drain())
	err := s.fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		if s.fleet.Caught.Load() >= int64(len(s.part)) {
			return true
		}
		recv, _ := sumRecv(s.clients)
		return watch.stalled(recv) && time.Since(s.start) > s.p.Within
	})
	return err == nil && s.fleet.Caught.Load() >= int64(len(s.part))
}

// drain runs once publishing stopped: it waits for the last
// acknowledgements, then until every reconnected session has the last
// acknowledged event or deliveries stall. It reports whether both
// completed.
func (s *storm) drain(ctx context.Context) bool {
	complete := true
	if err := s.pub.Flush(ctx); err != nil {
		complete = false
	}
	final := s.ledger.MaxSeq(s.mode)
	watch := newProgressWatch(s.env.drain())
	stalled := false
	if err := s.fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		done := true
		for _, c := range s.part {
			if c.LastSeq.Load() < final {
				done = false
				break
			}
		}
		if done {
			return true
		}
		recv, _ := sumRecv(s.clients)
		stalled = watch.stalled(recv)
		return stalled
	}); err != nil || stalled {
		complete = false
	}
	return complete
}

// tally fills the result once every client has ended; cpu is the server's
// CPU seconds from the drop until all were caught up.
func (s *storm) tally(cpu float64) {
	res, f := s.res, s.fleet
	seqs := s.ledger.Seqs(s.mode)
	var firsts, catches []float64
	var lastFirst, lastCaught int64
	allFirst, allCaught := true, true
	for _, c := range s.part {
		i := c.idx
		exp := uint64(countAbove(seqs, s.lastBefore[i]))
		got := c.Recv.Load() - s.recvBefore[i]
		res.Expected += exp
		res.Received += got
		if exp > got {
			res.Lost += exp - got
		}
		res.Dup += c.Dup.Load() - s.dupBefore[i]
		req := c.RequestAt.Load()
		if first := c.FirstAt.Load(); first != 0 {
			firsts = append(firsts, nanosToMs(first-req))
			lastFirst = max(lastFirst, first)
		} else {
			allFirst = false
		}
		if at := c.CaughtAt.Load(); at != 0 {
			catches = append(catches, nanosToMs(at-req))
			lastCaught = max(lastCaught, at)
		} else {
			allCaught = false
		}
	}
	res.FirstEventMs, res.CatchUpMs = SpreadOf(firsts), SpreadOf(catches)
	if allFirst && len(s.part) > 0 {
		res.AllResumedS = ptr(secs(time.Duration(lastFirst - s.start.UnixNano())))
	}
	if allCaught && len(s.part) > 0 {
		res.AllCaughtUpS = ptr(secs(time.Duration(lastCaught - s.start.UnixNano())))
	}
	res.Reconnected = f.Ready.Load() - s.before.ready
	res.NotResumed = f.NotResumed.Load() - s.before.notResumed
	res.HTTPErrors, res.ConnErrors = f.HTTPErrors.Load()-s.before.http, f.ConnErrors.Load()-s.before.conn
	res.Retries = f.Reconnects.Load() - s.before.retry
	res.Gaps, res.Takeovers = f.Gaps.Load()-s.before.gaps, f.Takeovers.Load()-s.before.takeovers
	res.Published, res.PublishFailed = s.ledger.Acked.Load(), s.ledger.Failed.Load()
	if s.env.Procs.Enabled() {
		res.ServerCPUS = ptr(round3(cpu))
	}
	res.addErrors(f.Errors())
	res.addErrors(s.ledger.Errors())
}
