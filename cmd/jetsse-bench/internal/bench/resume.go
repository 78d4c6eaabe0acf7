package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Resume modes: what the reconnecting client presents.
const (
	// ResumeLastEventID presents Last-Event-ID and the session cookie, as
	// a browser's EventSource does when it reconnects.
	ResumeLastEventID = "last-event-id"
	// ResumeIDOnly presents only Last-Event-ID (a client that keeps no
	// token): the server starts a new session at that position.
	ResumeIDOnly = "id-only"
	// ResumeCookie presents only the session cookie (a page refresh).
	ResumeCookie = "cookie"
	// ResumeHeader presents only the Jetsse-Session request header.
	ResumeHeader = "header"
)

// ResumeParams configure a resume run.
type ResumeParams struct {
	M      int    `json:"m"`      // events missed while disconnected
	Warmup int    `json:"warmup"` // events received before disconnecting
	Mode   string `json:"mode"`
	Repeat int    `json:"repeat"` // sessions measured, one after another
	Size   int    `json:"size"`
}

// ResumeSample is one session's reconnect.
type ResumeSample struct {
	Session      string  `json:"session"`
	Resumed      bool    `json:"resumed"` // as the session event said
	Expected     int     `json:"expected"`
	Received     uint64  `json:"received"`
	Lost         uint64  `json:"lost"`
	Dup          uint64  `json:"dup"`
	FirstEventMs float64 `json:"first_event_ms"` // reconnect request → first missed event
	CatchUpMs    float64 `json:"catch_up_ms"`    // reconnect request → last missed event
	EventsPerS   float64 `json:"events_per_s"`
}

// ResumeResult is one resume run (Repeat samples).
type ResumeResult struct {
	Header
	Params       ResumeParams   `json:"params"`
	Samples      []ResumeSample `json:"samples"`
	CatchUpMs    Spread         `json:"catch_up_ms"`
	FirstEventMs Spread         `json:"first_event_ms"`
	Expected     uint64         `json:"expected"`
	Received     uint64         `json:"received"`
	Lost         uint64         `json:"lost"`
	Dup          uint64         `json:"dup"`
	NotResumed   int            `json:"not_resumed"` // resumed=false although a token was presented
	Gaps         int64          `json:"gaps"`
}

// Resume measures how long a session that missed p.M events takes to
// receive them after reconnecting, presenting what p.Mode says. Each
// sample uses a fresh session and topic: attach, receive p.Warmup events,
// disconnect, publish p.M events (all acknowledged), reconnect.
func Resume(ctx context.Context, env *Env, p ResumeParams) (*ResumeResult, error) {
	switch p.Mode {
	case ResumeLastEventID, ResumeIDOnly, ResumeCookie, ResumeHeader:
	default:
		return nil, fmt.Errorf("resume mode %q is not %s, %s, %s or %s", p.Mode, ResumeLastEventID, ResumeIDOnly, ResumeCookie, ResumeHeader)
	}
	if p.M <= 0 {
		return nil, errors.New("resume needs m > 0")
	}
	p.Warmup = max(p.Warmup, 1)
	p.Repeat = max(p.Repeat, 1)
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	res := &ResumeResult{Header: env.header("resume"), Params: p}

	var run, recv atomic.Int64
	stopProgress := env.startProgress(func() string {
		return fmt.Sprintf("resume mode=%s M=%d run=%d/%d recv=%d", p.Mode, p.M, run.Load(), p.Repeat, recv.Load())
	})
	defer stopProgress()

	complete := true
	var catch, first []float64
	for i := range p.Repeat {
		run.Store(int64(i + 1))
		s, ok, err := resumeOnce(ctx, env, p, &recv, res)
		if err != nil {
			return nil, err
		}
		complete = complete && ok
		res.Samples = append(res.Samples, s)
		res.Expected += uint64(s.Expected)
		res.Received += s.Received
		res.Lost += s.Lost
		res.Dup += s.Dup
		// Only jetsse's session event says whether a session resumed.
		if !s.Resumed && p.Mode != ResumeIDOnly && env.SSE.Attach == AttachSession {
			res.NotResumed++
		}
		if ok {
			catch, first = append(catch, s.CatchUpMs), append(first, s.FirstEventMs)
		}
	}
	stopProgress()
	res.CatchUpMs, res.FirstEventMs = SpreadOf(catch), SpreadOf(first)
	res.finish(complete)
	return res, nil
}

// resumeOnce measures one sample with a fresh session and topic: warm-up,
// M missed events, reconnect. The bool is false when the session did not
// catch up; its errors and gaps are added to res.
func resumeOnce(ctx context.Context, env *Env, p ResumeParams, recv *atomic.Int64, res *ResumeResult) (ResumeSample, bool, error) {
	var s ResumeSample
	topic := RunTopic("resume")
	fleet, err := NewFleet(FleetConfig{SSE: env.SSE})
	if err != nil {
		return s, false, err
	}
	defer fleet.Wait() // after the deferred stops below end the client
	defer func() {
		res.addErrors(fleet.Errors())
		res.Gaps += fleet.Gaps.Load()
	}()
	ledger := &Ledger{}
	pub, err := env.NewPublisher(ledger)
	if err != nil {
		return s, false, err
	}
	defer pub.Close()
	defer func() { res.addErrors(ledger.Errors()) }()
	c := fleet.NewClient(0, topic)

	if err := resumeWarmup(ctx, env, p, fleet, c, pub, ledger, topic); err != nil {
		return s, false, err
	}

	// Miss M events.
	before, dupBefore := c.Recv.Load(), c.Dup.Load()
	ledger2 := &Ledger{}
	pub2, err := env.NewPublisher(ledger2)
	if err != nil {
		return s, false, err
	}
	defer pub2.Close()
	defer func() { res.addErrors(ledger2.Errors()) }()
	// Counters continue after the warm-up's, for --seq data.
	if err := publishAll(ctx, pub2, ledger2, topic, uint64(p.Warmup)+1, p.M, p.Size); err != nil {
		return s, false, err
	}
	s.Expected = int(ledger2.Acked.Load())

	// Reconnect.
	presentFor(c, p.Mode)
	c.ResetPhase()
	c.SetTarget(ledger2.MaxSeq(env.SSE.Seq))
	ctx2, stop2 := context.WithCancel(ctx)
	defer stop2()
	fleet.Start(ctx2, c)
	watch := newProgressWatch(env.drain())
	complete := true
	if err := fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		n := c.Recv.Load()
		recv.Store(int64(n - before))
		return c.CaughtAt.Load() != 0 || fleet.Running.Load() == 0 || watch.stalled(n)
	}); err != nil || c.CaughtAt.Load() == 0 {
		complete = false
	}
	stop2()
	fleet.Wait()

	s.Session, s.Resumed = c.SessionID, c.Resumed
	s.Received, s.Dup = c.Recv.Load()-before, c.Dup.Load()-dupBefore
	if uint64(s.Expected) > s.Received {
		s.Lost = uint64(s.Expected) - s.Received
	}
	if req, at := c.RequestAt.Load(), c.CaughtAt.Load(); complete && at > req {
		s.CatchUpMs = round3(nanosToMs(at - req))
		s.FirstEventMs = round3(nanosToMs(c.FirstAt.Load() - req))
		s.EventsPerS = round3(float64(s.Received) / time.Duration(at-req).Seconds())
	}
	return s, complete, nil
}

// resumeWarmup attaches c, a new session, publishes p.Warmup events and
// waits until c has them; then c's connection ends.
func resumeWarmup(ctx context.Context, env *Env, p ResumeParams, fleet *Fleet, c *Client, pub Publisher, ledger *Ledger, topic string) error {
	ctx1, stop1 := context.WithCancel(ctx)
	defer stop1()
	fleet.Start(ctx1, c)
	if err := fleet.WaitFor(ctx, 50*time.Millisecond, func() bool {
		return fleet.Ready.Load()+fleet.Failed.Load() > 0
	}); err != nil || fleet.Ready.Load() == 0 {
		stop1()
		fleet.Wait()
		return fmt.Errorf("attaching: %v %v", err, fleet.Errors())
	}
	if err := publishAll(ctx, pub, ledger, topic, 1, p.Warmup, p.Size); err != nil {
		return err
	}
	c.SetTarget(ledger.MaxSeq(env.SSE.Seq))
	watch := newProgressWatch(env.drain())
	if err := fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		return c.CaughtAt.Load() != 0 || watch.stalled(c.Recv.Load())
	}); err != nil || c.CaughtAt.Load() == 0 {
		stop1()
		fleet.Wait()
		return fmt.Errorf("receiving %d warm-up events (got %d): %v", p.Warmup, c.Recv.Load(), err)
	}
	stop1()
	fleet.Wait()
	return nil
}

// presentFor sets what c's reconnect presents in mode.
func presentFor(c *Client, mode string) {
	switch mode {
	case ResumeLastEventID:
		c.PresentID, c.PresentToken = true, TokenCookie
	case ResumeIDOnly:
		c.PresentID, c.PresentToken = true, TokenNone
	case ResumeCookie:
		c.PresentID, c.PresentToken = false, TokenCookie
	case ResumeHeader:
		c.PresentID, c.PresentToken = false, TokenHeader
	}
}

// publishAll publishes n events to topic, counters from first on, as fast
// as acknowledged and waits for every acknowledgement.
func publishAll(ctx context.Context, pub Publisher, l *Ledger, topic string, first uint64, n, size int) error {
	if err := Drive(ctx, pub, l, PublishPlan{
		Topic: func(uint64) string { return topic }, Count: uint64(n), Size: size, First: first,
	}); err != nil {
		return err
	}
	if err := pub.Flush(ctx); err != nil {
		return err
	}
	if f := l.Failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d publishes failed: %v", f, n, l.Errors())
	}
	return nil
}
