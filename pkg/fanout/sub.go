package fanout

import (
	"sync"

	"github.com/jetsse/jetsse/pkg/topic"
)

// Sub is one subscriber's bounded queue of live events. The hub's
// dispatcher enqueues without ever blocking; the connection drains with
// Take. A Sub is safe for one reader and the hub.
//
// Its fields are ordered for the hot path: what the dispatcher and the
// reader touch for every event (the lock, the queue, its bounds and
// positions) fills the first 64 bytes, so a delivery costs one cache line
// of the Sub where it used to cost both. A Sub is 128 bytes (every
// connection has one), an allocation the runtime aligns to 64.
type Sub struct {
	mu        sync.Mutex
	q         []*Event
	qBytes    int32
	maxEvents int32 // the queue's bounds
	maxBytes  int32
	ended     bool   // err != nil
	closed    bool   // Close was called
	lastEnq   uint64 // the last event queued
	pos       uint64 // events at or below pos are skipped by Take

	// notifier is told (without blocking, from the hub's dispatcher)
	// when the queue stops being empty or the subscription ends. Guarded
	// by mu, like err.
	notifier Notifier
	err      error

	// notify is signalled when the queue becomes non-empty, done is closed
	// when the subscription ends (Err says why). Both are made when first
	// asked for (Notify, Done), guarded by mu: a subscriber served through
	// SetNotify never needs them, and an idle connection's memory counts.
	notify chan struct{}
	done   chan struct{}

	hub    *Hub
	topics *topic.Set
}

// A Notifier is told that a subscriber may have something to do. Notify
// must not block.
type Notifier interface{ Notify() }

// A BatchNotifier takes the notifications of one dispatched event
// together: the dispatcher calls NotifyAll on the first notifier of an
// event's list, if it is a BatchNotifier, instead of Notify on each. It
// must tell every notifier in all (those of other types with their own
// Notify), without blocking.
type BatchNotifier interface {
	Notifier
	NotifyAll(all []Notifier)
}

// notifyAll tells every notifier in all.
func notifyAll(all []Notifier) {
	if len(all) == 0 {
		return
	}
	if b, ok := all[0].(BatchNotifier); ok {
		b.NotifyAll(all)
		return
	}
	for _, f := range all {
		f.Notify()
	}
}

// SetNotify makes the subscriber tell n (from the hub's dispatcher)
// whenever its queue stops being empty or the subscription ends, in
// addition to signalling Notify and Done. The reader must then take
// everything queued (Take, Poll): no further call comes until the queue
// was emptied. An interface, not a func: the dispatcher
// reaches the notified value in one step, with no closure between.
func (s *Sub) SetNotify(n Notifier) {
	s.mu.Lock()
	s.notifier = n
	s.mu.Unlock()
}

// enqueue queues ev. When the queue stops being empty it signals the
// Notify channel and returns the notifier, which the caller must tell
// (the dispatcher tells those of one event together, see notifyAll).
func (s *Sub) enqueue(ev *Event) Notifier {
	s.mu.Lock()
	if s.ended || s.closed || ev.Seq <= s.lastEnq {
		// Ended, or already queued (two topics of the set matched).
		s.mu.Unlock()
		return nil
	}
	was := len(s.q)
	if !s.pushLocked(ev) {
		return nil // ended: pushLocked told the notifier
	}
	s.lastEnq = ev.Seq
	if was > 0 {
		// Not the first: the reader was told when the queue stopped being
		// empty, and takes everything queued when it comes.
		s.mu.Unlock()
		return nil
	}
	n, f := s.notify, s.notifier
	s.mu.Unlock()
	wake(n, nil)
	return f
}

// skipped queues a gap marker: the events after after and before first
// left the stream before the hub read them. A subscriber already past them
// is not told.
func (s *Sub) skipped(after, first uint64) {
	s.mu.Lock()
	if s.ended || s.closed {
		s.mu.Unlock()
		return
	}
	after = max(after, s.pos, s.lastEnq)
	if after+1 >= first {
		s.mu.Unlock()
		return
	}
	was := len(s.q)
	if !s.pushLocked(&Event{Gap: &Gap{After: after, First: first}}) {
		return
	}
	if was > 0 {
		s.mu.Unlock()
		return
	}
	n, f := s.notify, s.notifier
	s.mu.Unlock()
	wake(n, f)
}

// pushLocked appends ev to the queue, or ends the subscription with
// ErrOverflow (unlocking s.mu and reporting false) when the queue is full.
func (s *Sub) pushLocked(ev *Event) bool {
	if len(s.q) >= int(s.maxEvents) || int(s.qBytes)+len(ev.Frame) > int(s.maxBytes) {
		s.endLocked(ErrOverflow)
		return false
	}
	s.q = append(s.q, ev)
	s.qBytes += int32(len(ev.Frame)) // at most maxBytes, an int32
	return true
}

// wake signals notify (the subscription's Notify channel, read under mu;
// nil if nobody asked for it) and tells f (read with it; nil if none).
func wake(notify chan struct{}, f Notifier) {
	if notify != nil {
		select {
		case notify <- struct{}{}:
		default:
		}
	}
	if f != nil {
		f.Notify()
	}
}

// Notify is signalled when events may be waiting: when the queue stops
// being empty (not for each event: the reader takes every queued event
// when it comes).
func (s *Sub) Notify() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notify == nil {
		s.notify = make(chan struct{}, 1)
		if len(s.q) > 0 {
			// Queued before anyone asked.
			s.notify <- struct{}{}
		}
	}
	return s.notify
}

// Done is closed when the subscription ends with an error (Err).
func (s *Sub) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
		if s.ended {
			close(s.done)
		}
	}
	return s.done
}

// Err returns why the subscription ended (ErrOverflow, ErrReset,
// ErrClosed), or nil.
func (s *Sub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Take appends the queued events with sequences above the last one taken
// (or the position given to Subscribe) to dst and returns it, with any gap
// marker (see Event) in its place. The returned events are shared; do not
// modify them.
func (s *Sub) Take(dst []*Event) []*Event {
	s.mu.Lock()
	dst = s.takeLocked(dst)
	s.mu.Unlock()
	return dst
}

func (s *Sub) takeLocked(dst []*Event) []*Event {
	for _, ev := range s.q {
		switch {
		case ev.Gap != nil:
			if ev.Gap.First > s.pos+1 {
				dst = append(dst, ev)
				s.pos = ev.Gap.First - 1
			}
		case ev.Seq > s.pos:
			dst = append(dst, ev)
			s.pos = ev.Seq
		}
	}
	clear(s.q)
	s.q, s.qBytes = s.q[:0], 0
	return dst
}

// Poll is Take and Err under one lock: the queued events, or why the
// subscription ended (then dst comes back unchanged).
func (s *Sub) Poll(dst []*Event) ([]*Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return dst, s.err
	}
	return s.takeLocked(dst), nil
}

// Advance tells the subscriber its client already has every event up to
// position, so queued events at or below it are skipped.
func (s *Sub) Advance(position uint64) {
	s.mu.Lock()
	s.pos = max(s.pos, position)
	s.mu.Unlock()
}

func (s *Sub) end(err error) {
	s.mu.Lock()
	if s.ended || s.closed {
		s.mu.Unlock()
		return
	}
	s.endLocked(err)
}

// endLocked ends the subscription with err, unlocking s.mu, then closes
// Done and tells the notifier.
func (s *Sub) endLocked(err error) {
	s.err, s.ended = err, true
	s.q, s.qBytes = nil, 0
	done, f := s.done, s.notifier
	s.mu.Unlock()
	if done != nil {
		close(done)
	}
	wake(nil, f)
}

// Close unregisters the subscriber. It is idempotent.
func (s *Sub) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.q = nil
	s.mu.Unlock()
	s.hub.remove(s)
}
