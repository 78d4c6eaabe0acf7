package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// SparseParams configure a sparse run.
type SparseParams struct {
	// Total events pre-filled; every Every-th goes to the sparse topic,
	// the rest round-robin to BusyTopics busy topics.
	Total      int `json:"total"`
	Every      int `json:"every"`
	BusyTopics int `json:"busy_topics"`
	Repeat     int `json:"repeat"`
	Size       int `json:"size"`
}

// SparseResult is one sparse run.
type SparseResult struct {
	Header
	Params SparseParams `json:"params"`
	Topic  string       `json:"topic"`

	Prefilled    uint64  `json:"prefilled"` // acknowledged
	SparseEvents int     `json:"sparse_events"`
	PrefillS     float64 `json:"prefill_s"`
	FirstID      uint64  `json:"first_id"`
	LastID       uint64  `json:"last_id"`

	CatchUpMs    Spread  `json:"catch_up_ms"`    // request → last sparse event
	FirstEventMs Spread  `json:"first_event_ms"` // request → first sparse event
	EventsPerS   float64 `json:"events_per_s"`   // sparse events / median catch-up
	// StreamPerS is the stream range covered (last id - first id + 1)
	// per second of median catch-up: how fast the server skips the busy
	// topics' events.
	StreamPerS float64  `json:"stream_per_s"`
	Received   uint64   `json:"received"`
	Lost       uint64   `json:"lost"`
	Dup        uint64   `json:"dup"`
	Gaps       int64    `json:"gaps"`
	ServerCPUS *float64 `json:"server_cpu_s"` // over the catch-ups
}

// Sparse pre-fills the stream with p.Total events of which 1 in p.Every
// goes to a sparse topic, then measures how fast a new session catches up
// on the sparse topic from before the first pre-filled event (Last-Event-ID
// = first id - 1), p.Repeat times. Needs SeqID: it resumes by id.
func Sparse(ctx context.Context, env *Env, p SparseParams) (*SparseResult, error) {
	if p.Total <= 0 || p.Every <= 0 || p.Total < p.Every {
		return nil, errors.New("sparse needs total >= every > 0")
	}
	if env.SSE.Seq != SeqID {
		return nil, errors.New("sparse resumes by Last-Event-ID and needs --seq id")
	}
	p.BusyTopics = max(p.BusyTopics, 1)
	p.Repeat = max(p.Repeat, 1)
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	base := RunTopic("sparse")
	res := &SparseResult{Header: env.header("sparse"), Params: p, Topic: base + ".sparse"}

	ledger := &Ledger{}
	pub, err := env.NewPublisher(ledger)
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	var run, recv atomic.Int64
	stopProgress := env.startProgress(func() string {
		return fmt.Sprintf("sparse total=%d sent=%d acked=%d run=%d/%d recv=%d",
			p.Total, ledger.Sent.Load(), ledger.Acked.Load(), run.Load(), p.Repeat, recv.Load())
	})
	defer stopProgress()

	if err := res.prefill(ctx, pub, ledger, base); err != nil {
		return nil, err
	}

	cpu0, err := cpuNow(env.Procs)
	if err != nil {
		return nil, err
	}
	complete := true
	var catch, first []float64
	for i := range p.Repeat {
		run.Store(int64(i + 1))
		catchMs, firstMs, ok, err := res.catchUp(ctx, env, &recv)
		if err != nil {
			return nil, err
		}
		if !ok {
			complete = false
			continue
		}
		catch = append(catch, catchMs)
		first = append(first, firstMs)
	}
	cpu1, err := cpuNow(env.Procs)
	if err != nil {
		return nil, err
	}
	stopProgress()
	res.CatchUpMs, res.FirstEventMs = SpreadOf(catch), SpreadOf(first)
	if res.CatchUpMs.Median > 0 {
		res.EventsPerS = round3(float64(res.SparseEvents) / (res.CatchUpMs.Median / 1e3))
		res.StreamPerS = round3(float64(res.LastID-res.FirstID+1) / (res.CatchUpMs.Median / 1e3))
	}
	if env.Procs.Enabled() {
		res.ServerCPUS = ptr(round3(cpu1 - cpu0))
	}
	res.finish(complete)
	return res, nil
}

// prefill publishes p.Total events, one in p.Every to the sparse topic and
// the others round-robin to the busy topics <base>.busy.<i>, and records
// the first pre-filled id and the last sparse one.
func (res *SparseResult) prefill(ctx context.Context, pub Publisher, ledger *Ledger, base string) error {
	p := res.Params
	busy := make([]string, p.BusyTopics)
	for i := range busy {
		busy[i] = base + ".busy." + strconv.Itoa(i)
	}
	every := uint64(p.Every)
	start := time.Now()
	if err := Drive(ctx, pub, ledger, PublishPlan{
		Topic: func(n uint64) string {
			if n%every == 0 {
				return res.Topic
			}
			return busy[n%uint64(len(busy))]
		},
		Count: uint64(p.Total), Size: p.Size,
	}); err != nil {
		return err
	}
	if err := pub.Flush(ctx); err != nil {
		return err
	}
	res.PrefillS = secs(time.Since(start))
	res.Prefilled = ledger.Acked.Load()
	res.addErrors(ledger.Errors())
	for _, a := range ledger.Acks() {
		if res.FirstID == 0 || a.ID < res.FirstID {
			res.FirstID = a.ID
		}
		if a.N%every == 0 {
			res.SparseEvents++
			res.LastID = max(res.LastID, a.ID)
		}
	}
	if res.FirstID == 0 || res.SparseEvents == 0 {
		return fmt.Errorf("pre-fill failed: %d acknowledged, errors %v", res.Prefilled, ledger.Errors())
	}
	return nil
}

// catchUp measures one new session that subscribes to the sparse topic
// with Last-Event-ID = first id - 1 and adds what it received to the
// result. ok is false when it did not reach the last sparse event; then
// the times are zero.
func (res *SparseResult) catchUp(ctx context.Context, env *Env, recv *atomic.Int64) (catchMs, firstMs float64, ok bool, err error) {
	fleet, err := NewFleet(FleetConfig{SSE: env.SSE})
	if err != nil {
		return 0, 0, false, err
	}
	c := fleet.NewClient(0, res.Topic)
	c.PresentID = true
	c.LastEventID = strconv.AppendUint(nil, res.FirstID-1, 10)
	c.SetTarget(res.LastID)
	cctx, stop := context.WithCancel(ctx)
	fleet.Start(cctx, c)
	watch := newProgressWatch(env.drain())
	err = fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		n := c.Recv.Load()
		recv.Store(int64(n))
		return c.CaughtAt.Load() != 0 || fleet.Running.Load() == 0 || watch.stalled(n)
	})
	stop()
	fleet.Wait()
	res.addErrors(fleet.Errors())
	res.Gaps += fleet.Gaps.Load()
	got := c.Recv.Load()
	res.Received += got
	res.Dup += c.Dup.Load()
	if uint64(res.SparseEvents) > got {
		res.Lost += uint64(res.SparseEvents) - got
	}
	req, at := c.RequestAt.Load(), c.CaughtAt.Load()
	if err != nil || at == 0 {
		return 0, 0, false, nil
	}
	return nanosToMs(at - req), nanosToMs(c.FirstAt.Load() - req), true, nil
}
