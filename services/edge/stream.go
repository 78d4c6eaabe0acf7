package edge

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/topic"
)

// Stream is one connection's flow of events for a session: first the
// history it missed (from this node's cache or from JetStream), then live
// events, in stream order, each once. One goroutine drives it, with Next
// (or Poll once it is live) and Wrote; Close detaches it. A takeover or a
// drain may arrive from any goroutine.
//
// The events Next and Poll return are shared frames; an event with a Gap
// is not an event but a gap the client must be told of, in its place.
type Stream struct {
	// The hot path first: what a live connection's every write reads or
	// writes (why it must stop, its subscription, what it wrote, its
	// write-to-position tracker) sits in the first cache lines, not spread
	// over the struct (one cold line costs more than the code around it).
	stopWhy   atomic.Int32
	lagSample uint32
	sub       *fanout.Sub
	svc       *edge
	liveAfter uint64 // the position after which events come from the live path
	began     int64  // when this connection began (unix nanos)
	// Positions: written is the highest event ID written to the socket;
	// acks maps writes to what the client surely had (the position to
	// record).
	written atomic.Uint64
	acks    ackTracker

	// Session is what the client is told first.
	Session SessionInfo

	subject    string // the identity the session belongs to
	reconnects uint64 // the session's connections after its first
	expires    int64  // when the connection's credentials expire, unix nanos (0: never)
	claim      string // this connection's name in the session's claims
	topics     *topic.Set
	release    func() // gives the topic set back
	filter     string // subject filter for JetStream reads ("" = whole stream)

	// The reader's state, its goroutine only: its position, what it
	// verified the stream holds (what the live path's cache may serve it),
	// which stream it reads (and liveAfter, above).
	pos      uint64
	trust    fanout.Trust
	streamID int64 // when the stream it reads was created (unix nanos; 0: not yet known)
	timer    *time.Timer

	created int64 // when the session was created (unix millis, as its record keeps it)

	// rev is the revision of the session record this connection last
	// wrote (0 while its claim is being stored). newestSeen is guarded by
	// the registry's mutex.
	rev        atomic.Uint64
	newestSeen uint64

	// recorded is the highest position written to the session's record,
	// at recordedAt (unix nanos).
	recorded   atomic.Uint64
	recordedAt atomic.Int64

	onSignal atomic.Pointer[func()] // called on takeover and drain
	// stopCh is closed when the stream must stop; stopWhy says why (one
	// channel for every reason, made only when Next first waits: a
	// connection served by the pooled writer never needs it, and an idle
	// connection's memory counts). See stopChan.
	stopCh    atomic.Pointer[chan struct{}]
	expiry    atomic.Pointer[time.Timer]
	closeOnce sync.Once
	// overlapping: the topics overlap (a pattern covers another), so an
	// event may match twice. (Last: it fills closeOnce's padding, and a
	// Stream stays 448 bytes.)
	overlapping bool
}

// Why a stream stops. A reason ranked higher replaces a lower one
// recorded before it (a drained connection that is then taken over tells
// its client of the takeover).
const (
	stopNone int32 = iota
	stopDrain
	stopReauth
	stopEnded
	stopTakeover
)

// stop records why the stream must stop and wakes it; it reports whether
// why is now the reason (false: it or a higher one was recorded before).
func (st *Stream) stop(why int32) bool {
	for {
		cur := st.stopWhy.Load()
		if cur >= why {
			return false
		}
		if st.stopWhy.CompareAndSwap(cur, why) {
			if cur == stopNone {
				st.closeStopChan()
			}
			st.signal()
			return true
		}
	}
}

// closedChan stands for a stop channel closed before anyone asked for it.
var closedChan = func() *chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return &ch
}()

// stopChan returns the channel closed when the stream must stop, making it
// on first use.
func (st *Stream) stopChan() <-chan struct{} {
	if p := st.stopCh.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{})
	if !st.stopCh.CompareAndSwap(nil, &ch) {
		return *st.stopCh.Load()
	}
	// A stop recorded before the channel was in place did not close it.
	if st.stopWhy.Load() != stopNone {
		st.closeStopChan()
	}
	return ch
}

// closeStopChan closes the stop channel if one was made, once; a later
// stopChan gets a closed one.
func (st *Stream) closeStopChan() {
	if p := st.stopCh.Swap(closedChan); p != nil && p != closedChan {
		close(*p)
	}
}

// SessionSent says the client was sent the session's first frame and
// token: the token's memory goes back (a connection may stay open for
// days).
func (st *Stream) SessionSent() { st.Session.Token = "" }

// stopErr is the error of the recorded reason (nil: none).
func (st *Stream) stopErr() error {
	switch st.stopWhy.Load() {
	case stopTakeover:
		return ErrTakenOver
	case stopEnded:
		return ErrEnded
	case stopReauth:
		return ErrReauth
	case stopDrain:
		return ErrDraining
	}
	return nil
}

func (st *Stream) takeOver() {
	if st.stop(stopTakeover) {
		st.svc.metrics.Takeovers.Add(1)
		st.svc.announce(LifecycleTakeover, st, st.ackedPosition(), true, nil)
	}
}

// end ends the stream because an operator ended its session (ErrEnded).
func (st *Stream) end() { st.stop(stopEnded) }

// wasEnded reports whether an operator ended the session.
func (st *Stream) wasEnded() bool { return st.stopWhy.Load() == stopEnded }

func (st *Stream) drain() { st.stop(stopDrain) }

// expireAt ends the stream (ErrReauth) at t, when its credentials expire;
// a zero t never.
func (st *Stream) expireAt(t time.Time) {
	if t.IsZero() {
		return
	}
	d := t.Sub(st.svc.cfg.Now())
	if d <= 0 {
		st.reauth()
		return
	}
	st.expiry.Store(time.AfterFunc(d, st.reauth))
}

func (st *Stream) reauth() {
	if st.stop(stopReauth) {
		st.svc.metrics.Reauths.Add(1)
	}
}

func (st *Stream) signal() {
	if f := st.onSignal.Load(); f != nil {
		(*f)()
	}
}

// Live reports whether the stream has caught up and reads from the live
// path (Poll may be used from then on).
func (st *Stream) Live() bool { return st.sub != nil }

// PollOnly says Next is not called any more: the stream is driven by Poll
// from now on. Call it before anything else may Close the stream.
func (st *Stream) PollOnly() {
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
}

// SetWake makes the stream tell w (whose Notify must not block) whenever
// it may have something to do: events queued, a takeover, a drain, or the
// end of its subscription. It is for a stream driven by Poll (see
// PollOnly), and only once it is Live. It is safe to call while the stream
// closes.
func (st *Stream) SetWake(w fanout.Notifier) {
	f := w.Notify
	st.onSignal.Store(&f)
	st.sub.SetNotify(w)
}

// Poll is Next without waiting, for a Live stream: it appends the queued
// events to dst, or returns why the stream ended.
func (st *Stream) Poll(dst []*fanout.Event) ([]*fanout.Event, error) {
	if st.stopWhy.Load() != stopNone {
		if err := st.ended(context.Background()); err != nil {
			return dst, err
		}
	}
	n := len(dst)
	dst, err := st.sub.Poll(dst)
	if err != nil {
		return dst, st.subError(err)
	}
	st.countGaps(dst[n:])
	return dst, nil
}

// countGaps counts the live path's gap markers: events left the stream
// before this node read them, and the client is told so.
func (st *Stream) countGaps(events []*fanout.Event) {
	for _, ev := range events {
		if ev.Gap != nil {
			st.svc.metrics.Gaps.Add(1)
			st.svc.announce(LifecycleGap, st, ev.Gap.After, true, ev.Gap)
		}
	}
}

// ended returns why the stream must stop, if it must.
func (st *Stream) ended(ctx context.Context) error {
	if err := st.stopErr(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if st.sub != nil {
		// Err, not Done: a connection served by the pooled writer never
		// needs the channel, which Done would make.
		if err := st.sub.Err(); err != nil {
			return st.subError(err)
		}
	}
	return nil
}

// WriteFailed records that writing to the client failed (a timeout means
// the client stopped reading).
func (st *Stream) WriteFailed(err error) {
	st.svc.metrics.WriteErrors.Add(1)
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		st.svc.metrics.SlowDisconnects.Add(1)
	}
}

func (st *Stream) subError(err error) error {
	err = subError(err)
	if errors.Is(err, ErrSlowClient) {
		st.svc.metrics.SlowDisconnects.Add(1)
	}
	return err
}

func subError(err error) error {
	switch {
	case errors.Is(err, fanout.ErrOverflow):
		return ErrSlowClient
	case errors.Is(err, fanout.ErrReset):
		return ErrStreamReset
	case errors.Is(err, fanout.ErrClosed):
		return ErrDraining
	}
	return err
}

// Next appends the next events to write to dst and returns it. It blocks
// until there is something to write, idle passes (it then returns dst
// unchanged and a nil error: time for a heartbeat), or the stream ends: it
// then returns ErrTakenOver, ErrSlowClient, ErrDraining, ErrStreamReset,
// ErrReauth, ErrEnded or the context's error. With idle ≤ 0 it does not
// wait for live events (a catch-up from history still runs).
func (st *Stream) Next(ctx context.Context, dst []*fanout.Event, idle time.Duration) ([]*fanout.Event, error) {
	if err := st.ended(ctx); err != nil {
		return dst, err
	}
	if st.sub == nil {
		n := len(dst)
		var err error
		if dst, err = st.catchUp(ctx, dst); err != nil || len(dst) > n || st.sub == nil {
			return dst, err
		}
	}
	if idle <= 0 {
		// Only what is there now (the caller is about to hand the stream
		// to Poll): no timer, and none of the channels a wait needs.
		n := len(dst)
		if dst = st.sub.Take(dst); len(dst) > n {
			st.countGaps(dst[n:])
			return dst, nil
		}
		return dst, st.ended(ctx)
	}
	if st.timer == nil {
		st.timer = time.NewTimer(idle)
	} else {
		st.timer.Reset(idle)
	}
	notify, done, stop := st.sub.Notify(), st.sub.Done(), st.stopChan()
	for {
		n := len(dst)
		if dst = st.sub.Take(dst); len(dst) > n {
			st.countGaps(dst[n:])
			return dst, nil
		}
		select {
		case <-notify:
		case <-done:
			return dst, st.subError(st.sub.Err())
		case <-stop:
			return dst, st.stopErr()
		case <-ctx.Done():
			return dst, ctx.Err()
		case <-st.timer.C:
			return dst, nil
		}
	}
}

// catchUp brings a stream that is not live yet closer: it subscribes to the
// live path when the live path's cache can serve what the client missed
// (appending those events), or else reads the next batch of history from
// JetStream.
func (st *Stream) catchUp(ctx context.Context, dst []*fanout.Event) ([]*fanout.Event, error) {
	for st.sub == nil {
		sub, backlog, ok, err := st.svc.live.Subscribe(st.topics, st.pos, fanout.SubConfig{
			MaxEvents: st.svc.cfg.Limits.QueueEvents,
			MaxBytes:  st.svc.cfg.Limits.QueueBytes,
		}, st.trust)
		if err != nil {
			return dst, subError(err)
		}
		if ok {
			st.sub = sub
			if n := len(backlog); n > 0 {
				st.pos = backlog[n-1].Seq
				st.svc.replayedCache.Add(uint64(n))
				dst = append(dst, backlog...)
			}
			// From here on events come from the live path.
			st.liveAfter = st.pos
			return dst, nil
		}
		n := len(dst)
		dst, err = st.readHistory(ctx, dst)
		if err != nil || len(dst) > n {
			return dst, err
		}
		if err := st.ended(ctx); err != nil {
			return dst, err
		}
		if !st.svc.live.Running() {
			// The live path starts over (on a stream made again): wait a
			// little, then read the stream's state again.
			wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			_ = st.svc.live.WaitRunning(wctx)
			cancel()
		}
	}
	return dst, nil
}

// readHistory reads one batch of events older than this node's cache from
// JetStream. It advances the reader past every event it read, matching or
// not, and past everything up to the cache when no more events exist. Each
// batch starts with a fresh look at the stream: events it no longer holds
// are a gap, and a stream made again ends the connection (ErrStreamReset).
func (st *Stream) readHistory(ctx context.Context, dst []*fanout.Event) ([]*fanout.Event, error) {
	svc := st.svc
	var upTo uint64
	if cs := svc.live.CoverStart(); cs > 0 {
		upTo = cs - 1 // sampled before the read: the read covers at least this far
	}
	epoch := svc.live.Epoch()
	state, err := svc.store.State(ctx)
	switch {
	case errors.Is(err, eventlog.ErrStreamNotFound):
		return dst, ErrStreamReset
	case err != nil:
		return dst, ErrUnavailable
	case st.streamID == 0:
		st.streamID = state.Created.UnixNano()
	case state.Created.UnixNano() != st.streamID:
		return dst, ErrStreamReset
	}
	view := state.View()
	st.trust = view.Trust()
	svc.live.Observe(view, epoch)
	if g, pos := gapAfter(st.pos, state); g != nil {
		// Evicted or purged while this connection was catching up.
		svc.metrics.Gaps.Add(1)
		st.pos = pos
		return append(dst, &fanout.Event{Gap: g}), nil
	}
	msgs, more, err := svc.store.ReadBatch(ctx, st.pos, st.filter, svc.cfg.Limits.ReplayBatch, 0)
	if err != nil && len(msgs) == 0 {
		return dst, ErrUnavailable
	}
	n := 0
	for _, m := range msgs {
		t := svc.store.Topic(m.Subject)
		if st.topics.Match(t) {
			typ := m.Type
			if IsControlType(typ) {
				typ = "" // counted where the live path reads it
			}
			dst = append(dst, fanout.NewEvent(m.Seq, t, typ, m.Data, m.Time))
			n++
		}
		st.pos = m.Seq
	}
	if err == nil && !more {
		st.pos = max(st.pos, upTo)
	}
	svc.replayedJS.Add(uint64(n))
	return dst, nil
}

// Wrote records that n bytes were written to the client at now (unix
// nanos), completing batch: nil for a write that completed no event (a
// heartbeat, or the part of a write that fit the socket).
func (st *Stream) Wrote(n int, batch []*fanout.Event, now int64) {
	var last *fanout.Event
	events := 0
	for _, ev := range batch {
		if ev.Seq > 0 {
			last = ev
			events++
		}
	}
	if last == nil {
		st.acks.wrote(n, 0, now)
		return
	}
	st.acks.wrote(n, last.Seq, now)
	if last.Seq > st.written.Load() {
		st.written.Store(last.Seq)
	}
	st.svc.delivered.Add(uint64(events))
	// Sample the lag of live delivery: one batch in 8 per connection.
	// History (from the cache or JetStream, or stored before this
	// connection began) is not lag.
	if st.sub == nil || last.Seq <= st.liveAfter || last.Time.IsZero() || last.Time.UnixNano() < st.began {
		return
	}
	if st.lagSample++; st.lagSample%8 == 1 {
		st.svc.metrics.DeliveryLag.Observe(st.svc.cfg.Now().Sub(last.Time).Seconds())
	}
}

// Close detaches the connection: it leaves the live path and, unless a
// newer connection took the session over, has the session's position
// recorded. It is idempotent.
func (st *Stream) Close() {
	st.closeOnce.Do(func() {
		st.FreezeAcks()
		if st.sub != nil {
			st.sub.Close()
		}
		if st.timer != nil {
			st.timer.Stop()
		}
		if t := st.expiry.Load(); t != nil {
			t.Stop()
		}
		// Queued under the registry's lock: a reconnect looking for this
		// session's position finds it attached or pending, never neither.
		var detachedAt uint64
		detached := st.svc.reg.releaseThen(st, func() {
			if st.rev.Load() != 0 && !st.wasEnded() {
				detachedAt = st.ackedPosition()
				st.svc.recorder.detached(st.Session.ID, detachment{
					rec:         st.record(detachedAt),
					rev:         st.rev.Load(),
					overlapping: st.overlapping,
				})
			}
		})
		if detached && st.rev.Load() != 0 && !st.wasEnded() {
			st.svc.announce(LifecycleDetached, st, detachedAt, true, nil)
		}
		st.release()
		st.svc.metrics.Connections.Add(-1)
		st.svc.streams.Done()
	})
}

// TrackAcks makes the positions recorded for the session follow what the
// client's TCP stack acknowledged: acked reports that (see
// pkg/platform.AckedBytes). Without it, positions are what was written.
func (st *Stream) TrackAcks(acked func() (bytes uint64, reset bool, ok bool)) {
	if acked != nil {
		st.acks.setAcked(acked)
	}
}

// ackedPosition is the position to record for the session: the last event
// the client surely had (see ackTracker).
func (st *Stream) ackedPosition() uint64 { return st.acks.position() }

// FreezeAcks fixes that position; call it when the connection ends (the
// socket cannot be asked after that).
func (st *Stream) FreezeAcks() { st.acks.freeze() }

// record is the session's record while this connection holds it.
func (st *Stream) record(position uint64) eventlog.Record {
	return eventlog.Record{
		Claim: st.claim, Position: position, Created: time.UnixMilli(st.created),
		Reconnects: st.reconnects, Subject: st.subject, Topics: st.topics.Topics(),
	}
}

func formatID(seq uint64) string { return strconv.FormatUint(seq, 10) }
