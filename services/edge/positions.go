package edge

import (
	"sync"
	"time"
)

// refreshGrace is how far back a session's stored position goes when its
// client reset the connection: a TCP stack resets (instead of closing)
// when its application closes with data still unread, so events written in
// the last refreshGrace may never have been read, and a resume from the
// session (without Last-Event-ID) gets them again. Duplicates are allowed
// there; losses are not.
const refreshGrace = time.Second

// ackTracker maps the bytes written on a connection to the events they
// completed, so that the position recorded for a connection that went away
// is one its client surely had:
//
//   - where the system tells what the peer's TCP stack acknowledged
//     (tcpi_bytes_acked), events not acknowledged in full do not count:
//     those written after the peer closed (a page being unloaded) never are;
//   - if the peer reset the connection with everything acknowledged (it
//     closed with data unread), events written within refreshGrace of that
//     moment do not count either.
//
// It is safe for concurrent use.
type ackTracker struct {
	// What every write touches first (see Stream's layout).
	mu      sync.Mutex
	written uint64
	head, n int
	ring    []ackMark // grows to maxAckMarks, then wraps
	floor   uint64    // position before the oldest mark in the ring

	acked  func() (acked uint64, reset bool, ok bool) // nil: unknown
	now    func() time.Time
	frozen bool
	final  uint64
}

// maxAckMarks bounds the writes a tracker remembers; older ones count as
// acknowledged.
const maxAckMarks = 256

type ackMark struct {
	end uint64 // bytes written when the event's frame was complete
	seq uint64
	at  int64 // when it was written (unix nanos)
}

func newAckTracker(start uint64, now func() time.Time) *ackTracker {
	a := new(ackTracker)
	a.init(start, now)
	return a
}

// init readies a tracker (one held in a Stream rather than made by
// newAckTracker) whose position starts at start.
func (a *ackTracker) init(start uint64, now func() time.Time) {
	a.floor, a.now = start, now
}

// setAcked gives the tracker a way to read the peer's acknowledgements.
func (a *ackTracker) setAcked(f func() (acked uint64, reset bool, ok bool)) {
	a.mu.Lock()
	a.acked = f
	a.mu.Unlock()
}

// wrote records n more bytes written at now (unix nanos), completing
// events up to seq (0: no event completed).
func (a *ackTracker) wrote(n int, seq uint64, now int64) {
	a.mu.Lock()
	a.written += uint64(n)
	if seq == 0 {
		a.mu.Unlock()
		return
	}
	m := ackMark{end: a.written, seq: seq, at: now}
	switch {
	case len(a.ring) < maxAckMarks:
		// Still growing: the marks are in order from index 0 (head is 0).
		a.ring = append(a.ring, m)
		a.n++
	case a.n == len(a.ring):
		// Full: the oldest mark gives way.
		a.floor = a.ring[a.head].seq
		a.ring[a.head] = m
		a.head = a.wrap(a.head + 1)
	default:
		a.ring[a.wrap(a.head+a.n)] = m
		a.n++
	}
	a.mu.Unlock()
}

// position returns the last event the client surely had.
func (a *ackTracker) position() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.frozen {
		return a.final
	}
	return a.positionLocked()
}

func (a *ackTracker) positionLocked() uint64 {
	acked, reset, known := uint64(0), false, false
	if a.acked != nil {
		acked, reset, known = a.acked()
	}
	now := a.now().UnixNano()
	settled := now - int64(refreshGrace)
	cutoff := int64(1<<63 - 1)
	if reset && acked >= a.written {
		// The peer reset with everything acknowledged: it closed with data
		// unread. (A reset with bytes unacknowledged is the answer to
		// writes after the peer had closed: what it acknowledged, it read.)
		cutoff = settled
	}
	// A mark that counts now, was acknowledged (or acknowledgements are
	// never known) and is older than refreshGrace counts at every later
	// call too: acknowledgements only grow, and the cutoff only moves on.
	// Such marks are dropped (they become the floor), so the ring holds
	// the last second's writes and what is still unacknowledged, and a
	// checkpoint walks those, not up to maxAckMarks.
	prunable := known || a.acked == nil
	pos, drop := a.floor, 0
	for i := 0; i < a.n; i++ {
		m := &a.ring[a.wrap(a.head+i)]
		if (known && m.end > acked) || m.at > cutoff {
			break
		}
		pos = m.seq
		if prunable && m.at <= settled {
			drop = i + 1
		}
	}
	a.dropLocked(drop)
	return pos
}

// dropLocked removes the k oldest marks, the floor moving up to the last
// of them. Marks that do not wrap are moved to the ring's start, which
// makes it a growing ring again (appends reuse its capacity).
func (a *ackTracker) dropLocked(k int) {
	if k == 0 {
		return
	}
	a.floor = a.ring[a.wrap(a.head+k-1)].seq
	a.head, a.n = a.wrap(a.head+k), a.n-k
	if a.head+a.n <= len(a.ring) {
		copy(a.ring, a.ring[a.head:a.head+a.n])
		a.ring, a.head = a.ring[:a.n], 0
	}
}

// wrap maps i, below twice the ring's length, to an index in it (a
// comparison, not a division: this runs for every write).
func (a *ackTracker) wrap(i int) int {
	if i >= len(a.ring) {
		i -= len(a.ring)
	}
	return i
}

// freeze fixes the position when the connection ends (after that, the
// socket cannot be asked).
func (a *ackTracker) freeze() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.frozen {
		a.final, a.frozen = a.positionLocked(), true
	}
}
