// Package fanout is jetsse's live path: one JetStream ordered consumer per
// edge node reads every event of the stream once, encodes its SSE frame
// once, keeps the most recent events in a bounded in-memory ring, and fans
// each event out by subject to the bounded queues of the node's
// subscribers. A subscriber that lets its queue fill is cut off, never
// waited for.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/kit/metrics/discard"
	"github.com/nats-io/nats-server/v2/server/gsl"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/pkg/sse"
	"github.com/jetsse/jetsse/pkg/topic"
)

// Event is one event of the stream, shared read-only by every subscriber.
type Event struct {
	Seq   uint64
	Topic string    // subject without the stream prefix
	Frame []byte    // the complete SSE frame: id, event, data lines, blank line
	Time  time.Time // when JetStream stored it
}

// NewEvent encodes an event's SSE frame.
func NewEvent(seq uint64, topic, eventType string, data []byte, stored time.Time) *Event {
	return &Event{
		Seq:   seq,
		Topic: topic,
		Frame: sse.AppendEventWithSeq(make([]byte, 0, len(data)+32+len(eventType)), seq, eventType, data),
		Time:  stored,
	}
}

// Errors a subscription ends with.
var (
	// ErrOverflow: the subscriber's queue filled up; it fell behind.
	ErrOverflow = errors.New("fanout: subscriber fell behind")
	// ErrReset: the stream went backwards (it was recreated); positions
	// held by subscribers are no longer meaningful.
	ErrReset = errors.New("fanout: stream was reset")
	// ErrClosed: the hub stopped.
	ErrClosed = errors.New("fanout: hub stopped")
)

// Config configures a Hub.
type Config struct {
	Stream string
	Prefix string
	// CacheEvents and CacheBytes bound the ring of recent events (defaults
	// 16,384 events and 64 MiB).
	CacheEvents int
	CacheBytes  int
	// EventsIn counts events read from the stream; CacheEventsGauge and
	// CacheBytesGauge report the ring's use (all optional).
	EventsIn         metrics.Counter
	CacheEventsGauge metrics.Gauge
	CacheBytesGauge  metrics.Gauge
	// StreamInfo returns the stream's first and last sequence; the hub
	// starts reading at the tail so that its ring is warm.
	StreamInfo func(ctx context.Context) (first, last uint64, err error)
}

// Hub is the node's live path. Create it with New, run it with Run. Its
// methods are safe for concurrent use.
type Hub struct {
	cfg Config
	js  jetstream.JetStream

	subs *gsl.GenericSublist[*Sub]

	mu         sync.RWMutex
	ring       ring
	last       uint64 // last event dispatched
	coverStart uint64 // every stream event >= coverStart (and <= last) is in the ring
	all        map[*Sub]struct{}
	closed     bool

	ready     chan struct{}
	readyOnce sync.Once
}

// New returns a Hub reading the stream through js.
func New(js jetstream.JetStream, cfg Config) *Hub {
	if cfg.CacheEvents <= 0 {
		cfg.CacheEvents = 16384
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 64 << 20
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
	return &Hub{
		cfg:   cfg,
		js:    js,
		subs:  gsl.NewSublist[*Sub](),
		ring:  ring{buf: make([]*Event, cfg.CacheEvents)},
		all:   make(map[*Sub]struct{}),
		ready: make(chan struct{}),
	}
}

// Ready is closed once the hub reads the stream.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Run reads the stream until ctx ends; it returns nil then, or the error
// that stopped it. Subscribers are ended with ErrClosed when Run returns.
func (h *Hub) Run(ctx context.Context) error {
	defer h.close()
	first, last, err := h.cfg.StreamInfo(ctx)
	if err != nil {
		return fmt.Errorf("fanout: %w", err)
	}
	start := last + 1
	if n := uint64(h.cfg.CacheEvents); last >= n {
		start = max(last-n+1, first)
	} else {
		start = max(1, first)
	}
	h.mu.Lock()
	h.last = start - 1
	h.coverStart = start
	h.mu.Unlock()

	cons, err := h.js.OrderedConsumer(ctx, h.cfg.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{h.cfg.Prefix + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    start,
	})
	if err != nil {
		return fmt.Errorf("fanout: ordered consumer: %w", err)
	}
	cc, err := cons.Consume(h.handle, jetstream.PullMaxMessagesWithBytesLimit(1000, 4<<20))
	if err != nil {
		return fmt.Errorf("fanout: consume: %w", err)
	}
	h.readyOnce.Do(func() { close(h.ready) })
	select {
	case <-ctx.Done():
	case <-cc.Closed():
	}
	cc.Stop()
	<-cc.Closed()
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("fanout: stream consumer stopped")
}

func (h *Hub) handle(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	t := m.Subject()
	if len(t) > len(h.cfg.Prefix) {
		t = t[len(h.cfg.Prefix)+1:]
	}
	ev := NewEvent(md.Sequence.Stream, t, m.Headers().Get("Sse-Event"), m.Data(), md.Timestamp)
	h.Dispatch(ev)
}

// Dispatch adds ev to the ring and enqueues it to every matching
// subscriber. Events must arrive in stream order; Run calls it for each
// event read. A sequence that skips ahead (events removed before the hub
// read them) empties the ring, so nobody replays across the hole from
// memory; one that goes backwards (the stream was recreated) also ends
// every subscriber with ErrReset.
func (h *Hub) Dispatch(ev *Event) {
	h.cfg.EventsIn.Add(1)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	var reset []*Sub
	switch {
	case ev.Seq <= h.last:
		for s := range h.all {
			reset = append(reset, s)
		}
		h.ring.clear()
		h.coverStart = ev.Seq
	case ev.Seq != h.last+1:
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
	h.subs.Match(ev.Topic, func(s *Sub) { s.enqueue(ev) })
}

// Last returns the last event ID the hub dispatched.
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

// Covers reports whether the ring can deliver every event after position
// (and whether position is not beyond the hub's last event).
func (h *Hub) Covers(position uint64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return position <= h.last && position+1 >= h.coverStart
}

// SubConfig bounds a subscriber's queue.
type SubConfig struct {
	MaxEvents int // default 1024
	MaxBytes  int // default 8 MiB
}

// Subscribe registers a subscriber for topics whose position is after (the
// last event ID it has), if the ring holds every event after it: it returns
// the subscriber and the matching events in (after, Last], which the caller
// writes before the subscriber's queue. ok is false, and nothing is
// registered, when the ring does not reach back to after+1; the caller then
// reads older events from JetStream and tries again.
//
// Events in the queue may repeat ones in the backlog; the subscriber skips
// them by sequence (see Sub.Take).
func (h *Hub) Subscribe(topics *topic.Set, after uint64, cfg SubConfig) (s *Sub, backlog []*Event, ok bool, err error) {
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = 1024
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 8 << 20
	}
	if !h.coversOrAhead(after) {
		return nil, nil, false, nil
	}
	s = &Sub{
		hub:       h,
		topics:    topics,
		maxEvents: cfg.MaxEvents,
		maxBytes:  cfg.MaxBytes,
		pos:       after,
		notify:    make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, false, ErrClosed
	}
	h.all[s] = struct{}{}
	h.mu.Unlock()
	for _, t := range topics.Topics() {
		if err := h.subs.Insert(t, s); err != nil {
			s.Close()
			return nil, nil, false, fmt.Errorf("fanout: %w", err)
		}
	}
	h.mu.RLock()
	if after < h.last && after+1 < h.coverStart {
		// The ring moved on between the check and the registration.
		h.mu.RUnlock()
		s.Close()
		return nil, nil, false, nil
	}
	snapshot := h.ring.since(after)
	h.mu.RUnlock()
	backlog = snapshot[:0]
	for _, ev := range snapshot {
		if topics.Match(ev.Topic) {
			backlog = append(backlog, ev)
		}
	}
	if n := len(backlog); n > 0 {
		// Queued duplicates of the backlog are skipped by Take.
		s.Advance(backlog[n-1].Seq)
	}
	return s, backlog, true, nil
}

// coversOrAhead: the ring holds every event after position, or position is
// at or beyond the last event.
func (h *Hub) coversOrAhead(position uint64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return position >= h.last || position+1 >= h.coverStart
}

// Subscribers returns the number of registered subscribers.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.all)
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

// ring is a circular buffer of events in sequence order.
type ring struct {
	buf   []*Event
	head  int // index of the oldest
	n     int
	bytes int
}

func (r *ring) push(ev *Event) {
	r.buf[(r.head+r.n)%len(r.buf)] = ev
	r.n++
	r.bytes += len(ev.Frame)
}

func (r *ring) pop() *Event {
	ev := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	r.bytes -= len(ev.Frame)
	return ev
}

func (r *ring) clear() {
	for r.n > 0 {
		r.pop()
	}
	r.head = 0
}

func (r *ring) at(i int) *Event { return r.buf[(r.head+i)%len(r.buf)] }

// since returns the events with Seq > after, oldest first, in a new slice.
func (r *ring) since(after uint64) []*Event {
	// Binary search for the first event after `after`.
	lo, hi := 0, r.n
	for lo < hi {
		mid := (lo + hi) / 2
		if r.at(mid).Seq <= after {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	out := make([]*Event, 0, r.n-lo)
	for i := lo; i < r.n; i++ {
		out = append(out, r.at(i))
	}
	return out
}
