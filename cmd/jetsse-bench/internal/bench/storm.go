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
	var presentID bool
	var via TokenVia
	switch p.Present {
	case "both", "":
		p.Present, presentID, via = "both", true, TokenHeader
	case "id":
		presentID = true
	case "token":
		via = TokenHeader
	default:
		return nil, fmt.Errorf("storm present %q is not both, id or token", p.Present)
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	res := &StormResult{Header: env.header("storm"), Topic: RunTopic("storm")}
	res.Params.StormParams, res.Params.WithinS = p, p.Within.Seconds()
	mode := env.SSE.Seq

	fleet, err := NewFleet(FleetConfig{SSE: env.SSE, Reconnect: true, MaxRetries: 5})
	if err != nil {
		return nil, err
	}
	ledger := &Ledger{}
	pub, err := env.NewPublisher(ledger)
	if err != nil {
		return nil, err
	}
	defer pub.Close()

	phase := "attach"
	var phaseMu sync.Mutex
	setPhase := func(s string) { phaseMu.Lock(); phase = s; phaseMu.Unlock() }
	clients := make([]*Client, p.N)
	stopProgress := env.startProgress(func() string {
		phaseMu.Lock()
		ph := phase
		phaseMu.Unlock()
		recv, dup := sumRecv(clients)
		return fmt.Sprintf("storm N=%d phase=%s attached=%d running=%d caught=%d published=%d recv=%d dup=%d http_errors=%d conn_errors=%d",
			p.N, ph, fleet.Ready.Load(), fleet.Running.Load(), fleet.Caught.Load(), ledger.Acked.Load(),
			recv, dup, fleet.HTTPErrors.Load(), fleet.ConnErrors.Load())
	})
	defer stopProgress()

	// Phase 1: attach every session.
	ctx1, stop1 := context.WithCancel(ctx)
	defer stop1()
	for i := range clients {
		c := fleet.NewClient(i, res.Topic)
		c.PresentID, c.PresentToken = true, TokenHeader
		clients[i] = c
		fleet.Start(ctx1, c)
	}
	waitAll := func() {
		stop1()
		fleet.Wait()
	}
	if err := fleet.WaitFor(ctx, 100*time.Millisecond, func() bool {
		return fleet.Ready.Load()+fleet.Failed.Load() >= int64(p.N)
	}); err != nil {
		waitAll()
		return nil, fmt.Errorf("attaching %d sessions (%d attached): %w", p.N, fleet.Ready.Load(), err)
	}

	// Publish until the end, and wait until every session has an event.
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- Drive(pubCtx, pub, ledger, PublishPlan{
			Topic: func(uint64) string { return res.Topic },
			Count: uint64(p.Rate*env.Timeout.Seconds()) + 1, Rate: p.Rate, Size: p.Size,
		})
	}()
	var stopOnce sync.Once
	stopPublisher := func() { stopOnce.Do(func() { stopPub(); <-pubDone }) }
	defer stopPublisher()
	setPhase("warm")
	if err := fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		var n int64
		for _, c := range clients {
			if c.Recv.Load() > 0 {
				n++
			}
		}
		return n >= fleet.Ready.Load()
	}); err != nil {
		waitAll()
		return nil, fmt.Errorf("waiting for a first event on every session: %w", err)
	}

	// The storm: drop everything, then reconnect spread over Within.
	setPhase("storm")
	stormStart := time.Now()
	cpu0, err := cpuNow(env.Procs)
	if err != nil {
		waitAll()
		return nil, err
	}
	waitAll()
	var part []*Client
	lastBefore := make([]uint64, p.N)
	recvBefore := make([]uint64, p.N)
	dupBefore := make([]uint64, p.N)
	for i, c := range clients {
		lastBefore[i], recvBefore[i], dupBefore[i] = c.LastSeq.Load(), c.Recv.Load(), c.Dup.Load()
		if c.Attached() {
			part = append(part, c)
		}
	}
	res.Sessions = int64(len(part))
	http0, conn0, retry0 := fleet.HTTPErrors.Load(), fleet.ConnErrors.Load(), fleet.Reconnects.Load()
	gaps0, take0, notRes0 := fleet.Gaps.Load(), fleet.Takeovers.Load(), fleet.NotResumed.Load()
	ready0 := fleet.Ready.Load()
	fleet.Caught.Store(0)
	for _, c := range part {
		c.ResetPhase()
		c.PresentID, c.PresentToken = presentID, via
	}

	// A real storm is not throttled: only the spread over Within limits the
	// reconnect rate (up to the usual accept queue length in flight).
	fleet.SetDialConcurrency(max(env.SSE.DialConcurrency, 4096))
	ctx2, stop2 := context.WithCancel(ctx)
	defer stop2()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		t := time.NewTimer(time.Hour)
		defer t.Stop()
		for i, c := range part {
			due := stormStart.Add(time.Duration(int64(p.Within) * int64(i) / int64(len(part))))
			if d := time.Until(due); d > 0 {
				t.Reset(d)
				select {
				case <-ctx2.Done():
					return
				case <-t.C:
				}
			}
			c.SetTarget(max(ledger.MaxSeq(mode), lastBefore[c.idx]+1))
			fleet.Start(ctx2, c)
		}
	}()
	phase2Done := func() {
		stop2()
		<-schedDone
		fleet.Wait()
	}
	complete := true
	watch := newProgressWatch(env.drain())
	if err := fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		if fleet.Caught.Load() >= int64(len(part)) {
			return true
		}
		recv, _ := sumRecv(clients)
		return watch.stalled(recv) && time.Since(stormStart) > p.Within
	}); err != nil || fleet.Caught.Load() < int64(len(part)) {
		complete = false
	}
	cpu1, err := cpuNow(env.Procs)
	if err != nil {
		phase2Done()
		return nil, err
	}

	// Stop publishing and let every session receive the rest.
	setPhase("drain")
	stopPublisher()
	if err := pub.Flush(ctx); err != nil {
		complete = false
	}
	final := ledger.MaxSeq(mode)
	watch = newProgressWatch(env.drain())
	stalled := false
	if err := fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		done := true
		for _, c := range part {
			if c.LastSeq.Load() < final {
				done = false
				break
			}
		}
		if done {
			return true
		}
		recv, _ := sumRecv(clients)
		stalled = watch.stalled(recv)
		return stalled
	}); err != nil || stalled {
		complete = false
	}
	phase2Done()
	stopProgress()

	seqs := ledger.Seqs(mode)
	var firsts, catches []float64
	var lastFirst, lastCaught int64
	allFirst, allCaught := true, true
	for _, c := range part {
		i := c.idx
		exp := uint64(countAbove(seqs, lastBefore[i]))
		got := c.Recv.Load() - recvBefore[i]
		res.Expected += exp
		res.Received += got
		if exp > got {
			res.Lost += exp - got
		}
		res.Dup += c.Dup.Load() - dupBefore[i]
		req := c.RequestAt.Load()
		if f := c.FirstAt.Load(); f != 0 {
			firsts = append(firsts, nanosToMs(f-req))
			lastFirst = max(lastFirst, f)
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
	if allFirst && len(part) > 0 {
		res.AllResumedS = ptr(secs(time.Duration(lastFirst - stormStart.UnixNano())))
	}
	if allCaught && len(part) > 0 {
		res.AllCaughtUpS = ptr(secs(time.Duration(lastCaught - stormStart.UnixNano())))
	}
	res.Reconnected = fleet.Ready.Load() - ready0
	res.NotResumed = fleet.NotResumed.Load() - notRes0
	res.HTTPErrors, res.ConnErrors = fleet.HTTPErrors.Load()-http0, fleet.ConnErrors.Load()-conn0
	res.Retries = fleet.Reconnects.Load() - retry0
	res.Gaps, res.Takeovers = fleet.Gaps.Load()-gaps0, fleet.Takeovers.Load()-take0
	res.Published, res.PublishFailed = ledger.Acked.Load(), ledger.Failed.Load()
	if env.Procs.Enabled() {
		res.ServerCPUS = ptr(round3(cpu1 - cpu0))
	}
	res.addErrors(fleet.Errors())
	res.addErrors(ledger.Errors())
	res.finish(complete)
	return res, nil
}
