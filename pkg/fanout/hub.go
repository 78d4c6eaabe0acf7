// Package fanout is jetsse's live path, in memory: a Hub reads every event
// of the stream once from a Source (pkg/eventlog's ordered consumer in the
// edge), encodes its SSE frame once, keeps the most recent events in a
// bounded ring, and fans each event out by topic (nats-server's sublist) to
// the bounded queues of the node's subscribers. A subscriber that lets its
// queue fill is cut off, never waited for. It knows nothing of NATS: tests
// and benchmarks drive it with Dispatch.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/kit/metrics/discard"
	"github.com/nats-io/nats-server/v2/server/gsl"

	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/topic"
)

// Config configures a Hub.
type Config struct {
	// CacheEvents and CacheBytes bound the ring of recent events (defaults
	// 16,384 events and 64 MiB).
	CacheEvents int
	CacheBytes  int
	// EventsIn counts events read from the stream; CacheEventsGauge and
	// CacheBytesGauge report the ring's use (all optional).
	EventsIn         metrics.Counter
	CacheEventsGauge metrics.Gauge
	CacheBytesGauge  metrics.Gauge
	// AllowType reports whether an event type read from the stream may be
	// delivered as it is; an event with a type it refuses is delivered
	// without one, and counted in TypesDropped (both optional).
	AllowType    func(eventType string) bool
	TypesDropped metrics.Counter
}

// Hub is the node's live path. Create it with New, run it with Run. Its
// methods are safe for concurrent use.
type Hub struct {
	cfg Config

	subs *gsl.GenericSublist[*Sub]

	// dispatchMu guards told, the notifiers one Dispatch collects to tell
	// together (see BatchNotifier).
	dispatchMu sync.Mutex
	told       []Notifier

	mu         sync.RWMutex
	ring       ring
	last       uint64 // last event dispatched
	coverStart uint64 // every stream event >= coverStart (and <= last) is in the ring
	created    time.Time
	// contiguous: the stream was last seen with no event missing from its
	// middle, and nothing that can make one was signalled since (epoch
	// counts the signals, see Suspect).
	contiguous bool
	epoch      uint64
	all        map[*Sub]struct{}
	closed     bool

	upMu      sync.Mutex
	up        chan struct{} // closed while the hub reads the stream
	restart   chan struct{}
	ready     chan struct{}
	readyOnce sync.Once
}

// New returns a Hub; Run makes it read a Source.
func New(cfg Config) *Hub {
	if cfg.CacheEvents <= 0 {
		cfg.CacheEvents = defaults.CacheEvents
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = defaults.CacheBytes
	}
	if cfg.EventsIn == nil {
		cfg.EventsIn = discard.NewCounter()
	}
	if cfg.CacheEventsGauge == nil {
		cfg.CacheEventsGauge = discard.NewGauge()
	}
	if cfg.CacheBytesGauge == nil {
		cfg.CacheBytesGauge = discard.NewGauge()
	}
	if cfg.AllowType == nil {
		cfg.AllowType = func(string) bool { return true }
	}
	if cfg.TypesDropped == nil {
		cfg.TypesDropped = discard.NewCounter()
	}
	return &Hub{
		cfg:     cfg,
		subs:    gsl.NewSublist[*Sub](),
		ring:    newRing(cfg.CacheEvents),
		all:     make(map[*Sub]struct{}),
		up:      make(chan struct{}),
		restart: make(chan struct{}, 1),
		ready:   make(chan struct{}),
	}
}

// Ready is closed once the hub first reads the stream.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Running reports whether the hub reads the stream right now (it does not
// while it starts over on a recreated stream).
func (h *Hub) Running() bool {
	select {
	case <-h.upChan():
		return true
	default:
		return false
	}
}

// WaitRunning waits until the hub reads the stream, or ctx ends.
func (h *Hub) WaitRunning(ctx context.Context) error {
	select {
	case <-h.upChan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hub) upChan() chan struct{} {
	h.upMu.Lock()
	defer h.upMu.Unlock()
	return h.up
}

func (h *Hub) setRunning(on bool) {
	h.upMu.Lock()
	defer h.upMu.Unlock()
	select {
	case <-h.up:
		if !on {
			h.up = make(chan struct{})
		}
	default:
		if on {
			close(h.up)
		}
	}
}

// Run reads src until ctx ends, and returns nil then. When the stream is
// recreated (see Observe), or src stops, it ends every subscriber with
// ErrReset and starts over at the new stream's tail. Subscribers are ended
// with ErrClosed when Run returns.
func (h *Hub) Run(ctx context.Context, src Source) error {
	defer h.close()
	delay := 100 * time.Millisecond
	for {
		err := h.runOnce(ctx, src)
		h.setRunning(false)
		if ctx.Err() != nil {
			return nil
		}
		h.reset()
		if err == nil {
			delay = 100 * time.Millisecond
			continue // restarted on purpose: at once
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// runOnce reads the stream from its tail until ctx ends or a restart is
// asked (nil), or the stream cannot be read (an error).
func (h *Hub) runOnce(ctx context.Context, src Source) error {
	view, err := src.View(ctx)
	if err != nil {
		return fmt.Errorf("fanout: %w", err)
	}
	start := view.Last + 1
	if n := uint64(h.cfg.CacheEvents); view.Last >= n {
		start = max(view.Last-n+1, view.First)
	} else {
		start = max(1, view.First)
	}
	h.mu.Lock()
	h.last = start - 1
	h.coverStart = start
	h.created = view.Created
	h.contiguous = view.Contiguous
	h.mu.Unlock()
	select {
	case <-h.restart: // asked before this start: done
	default:
	}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	followed := make(chan error, 1)
	go func() {
		followed <- src.Follow(fctx, start, func() {
			h.setRunning(true)
			h.readyOnce.Do(func() { close(h.ready) })
		}, h.handle)
	}()
	select {
	case <-ctx.Done():
	case <-h.restart:
	case err = <-followed:
		if err == nil {
			err = errors.New("fanout: the source stopped")
		}
		return err
	}
	cancel()
	<-followed
	return nil
}

// Restart makes Run start over on the stream as it is now, ending every
// subscriber with ErrReset. It does not wait.
func (h *Hub) Restart() {
	select {
	case h.restart <- struct{}{}:
	default:
	}
}

// reset ends every subscriber with ErrReset and empties the ring, before
// the hub starts over.
func (h *Hub) reset() {
	h.mu.Lock()
	subs := make([]*Sub, 0, len(h.all))
	for s := range h.all {
		subs = append(subs, s)
	}
	h.ring.clear()
	h.coverStart = h.last + 1
	n, b := h.ring.n, h.ring.bytes
	h.mu.Unlock()
	h.cfg.CacheEventsGauge.Set(float64(n))
	h.cfg.CacheBytesGauge.Set(float64(b))
	for _, s := range subs {
		s.end(ErrReset)
	}
}

// Epoch returns the number of Suspect calls so far: take it before reading
// the stream's state, and give it to Observe with what was read.
func (h *Hub) Epoch() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.epoch
}

// Suspect says something may have removed events from the middle of the
// stream (an operator's purge or message deletion, a changed
// configuration): until a state read after this call says otherwise (see
// Observe), the ring serves only callers that read the whole stream.
func (h *Hub) Suspect() {
	h.mu.Lock()
	h.epoch++
	h.contiguous = false
	h.mu.Unlock()
}

// Observe brings the hub in line with what the stream held at one moment,
// read after Epoch returned epoch: events below its first sequence leave
// the ring; a stream with events removed from its middle empties the ring
// (they may be among its events, and purged data should not stay in
// memory); a stream created after the one the hub reads (an operator
// deleted it and it was made again) makes the hub start over (see
// Restart). A view of an older stream is ignored; a contiguous view counts
// only if no Suspect came since epoch.
func (h *Hub) Observe(v View, epoch uint64) {
	h.mu.Lock()
	switch {
	case h.created.IsZero() || v.Created.Before(h.created):
		h.mu.Unlock()
		return
	case v.Created.After(h.created):
		h.mu.Unlock()
		h.Restart()
		return
	}
	changed := false
	if !v.Contiguous {
		changed = h.ring.n > 0
		h.ring.clear()
		h.coverStart = h.last + 1
		h.contiguous = false
	} else if epoch == h.epoch {
		h.contiguous = true
	}
	for h.ring.n > 0 && h.ring.at(0).Seq < v.First {
		h.ring.pop()
		changed = true
	}
	if h.coverStart < v.First {
		h.coverStart = min(v.First, h.last+1)
	}
	n, b := h.ring.n, h.ring.bytes
	h.mu.Unlock()
	if changed {
		h.cfg.CacheEventsGauge.Set(float64(n))
		h.cfg.CacheBytesGauge.Set(float64(b))
	}
}

func (h *Hub) handle(m Msg) {
	typ := m.Type
	if typ != "" && !h.cfg.AllowType(typ) {
		h.cfg.TypesDropped.Add(1)
		typ = ""
	}
	h.Dispatch(NewEvent(m.Seq, m.Topic, typ, m.Data, m.Time))
}

// Dispatch adds ev to the ring and enqueues it to every matching
// subscriber. Events must arrive in stream order; Run calls it for each
// event read. A sequence that skips ahead (events removed before the hub
// read them) empties the ring, so nobody replays across the hole from
// memory, and puts a gap marker in every subscriber's queue first, so no
// client skips the hole silently. One that goes backwards (the stream was
// recreated) ends every subscriber with ErrReset.
func (h *Hub) Dispatch(ev *Event) {
	h.cfg.EventsIn.Add(1)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	var reset, skipped []*Sub
	var skipFrom uint64
	switch {
	case ev.Seq <= h.last:
		for s := range h.all {
			reset = append(reset, s)
		}
		h.ring.clear()
		h.coverStart = ev.Seq
	case ev.Seq != h.last+1:
		skipFrom = h.last
		for s := range h.all {
			skipped = append(skipped, s)
		}
		h.ring.clear()
		h.coverStart = ev.Seq
	}
	for h.ring.n > 0 && (h.ring.n == len(h.ring.buf) || h.ring.bytes+len(ev.Frame) > h.cfg.CacheBytes) {
		old := h.ring.pop()
		h.coverStart = old.Seq + 1
	}
	if len(h.ring.buf) > 0 && len(ev.Frame) <= h.cfg.CacheBytes {
		h.ring.push(ev)
	} else {
		h.coverStart = ev.Seq + 1
	}
	h.last = ev.Seq
	n, b := h.ring.n, h.ring.bytes
	h.mu.Unlock()

	h.cfg.CacheEventsGauge.Set(float64(n))
	h.cfg.CacheBytesGauge.Set(float64(b))
	for _, s := range reset {
		s.end(ErrReset)
	}
	for _, s := range skipped {
		s.skipped(skipFrom, ev.Seq)
	}
	h.dispatchMu.Lock()
	told := h.told[:0]
	h.subs.Match(ev.Topic, func(s *Sub) {
		if f := s.enqueue(ev); f != nil {
			told = append(told, f)
		}
	})
	notifyAll(told)
	clear(told)
	h.told = told[:0]
	h.dispatchMu.Unlock()
}

// Last returns the last event ID the hub dispatched: every event up to it
// was stored, and the hub reads on from it.
func (h *Hub) Last() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.last
}

// CoverStart returns the lowest event ID from which the ring holds every
// event up to Last.
func (h *Hub) CoverStart() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.coverStart
}

// SubConfig bounds a subscriber's queue.
type SubConfig struct {
	MaxEvents int // default defaults.QueueEvents
	MaxBytes  int // default defaults.QueueBytes
}

// Subscribe registers a subscriber for topics whose position is after (the
// last event ID it has). t is what the caller verified the stream held
// after its client asked: the ring serves the events in (after, Last] only
// if the stream held every one of them then. It returns the subscriber and
// the matching events in (after, Last], which the caller writes before the
// subscriber's queue. ok is false, and nothing is registered, when the ring
// cannot serve them; the caller then reads older events from JetStream and
// tries again.
//
// Events in the queue may repeat ones in the backlog; the subscriber skips
// them by sequence (see Sub.Take).
func (h *Hub) Subscribe(topics *topic.Set, after uint64, cfg SubConfig, t Trust) (s *Sub, backlog []*Event, ok bool, err error) {
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = defaults.QueueEvents
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaults.QueueBytes
	}
	if !h.serves(after, t) {
		return nil, nil, false, nil
	}
	s = &Sub{
		hub:       h,
		topics:    topics,
		maxEvents: int32(min(cfg.MaxEvents, math.MaxInt32)),
		maxBytes:  int32(min(cfg.MaxBytes, math.MaxInt32)),
		pos:       after,
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, false, ErrClosed
	}
	h.all[s] = struct{}{}
	h.mu.Unlock()
	for _, tp := range topics.Topics() {
		if err := h.subs.Insert(tp, s); err != nil {
			s.Close()
			return nil, nil, false, fmt.Errorf("fanout: %w", err)
		}
	}
	h.mu.RLock()
	if !h.servesLocked(after, t) {
		// The ring moved on between the check and the registration.
		h.mu.RUnlock()
		s.Close()
		return nil, nil, false, nil
	}
	backlog, last := h.ring.matching(after, topics.Match)
	h.mu.RUnlock()
	if last != nil {
		// Queued duplicates of the backlog are skipped by Take (events
		// between that did not match are never queued here).
		s.Advance(last.Seq)
	}
	return s, backlog, true, nil
}

// serves reports whether a subscriber at position can start here: it is at
// or beyond the last event (nothing to serve from memory), or the ring
// holds every event after it and the stream (as the caller verified) held
// them all.
func (h *Hub) serves(position uint64, t Trust) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.servesLocked(position, t)
}

func (h *Hub) servesLocked(position uint64, t Trust) bool {
	if !t.Stream.IsZero() && !t.Stream.Equal(h.created) {
		return false
	}
	if position >= h.last {
		return true
	}
	contiguous := h.contiguous
	if t.Whole {
		contiguous = t.Contiguous
	}
	if !contiguous || position+1 < h.coverStart || position+1 < t.First {
		return false
	}
	return true
}

func (h *Hub) remove(s *Sub) {
	for _, t := range s.topics.Topics() {
		_ = h.subs.Remove(t, s)
	}
	h.mu.Lock()
	delete(h.all, s)
	h.mu.Unlock()
}

func (h *Hub) close() {
	h.mu.Lock()
	h.closed = true
	subs := make([]*Sub, 0, len(h.all))
	for s := range h.all {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.end(ErrClosed)
	}
}
