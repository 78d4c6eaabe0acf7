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
// It remembers the newest write that completed an event exactly, and older
// ones at most one per markStep (see wrote), so a write touches the
// tracker's own two cache lines, not a ring slot each time.
//
// It is safe for concurrent use.
type ackTracker struct {
	// What every write touches (see Stream's layout).
	mu      sync.Mutex
	written uint64
	newest  ackMark // the last write that completed an event (seq 0: none after the ring's)
	ringAt  int64   // when the ring's newest mark was written
	head, n int32
	ring    []ackMark // older marks, markStep apart; grows to maxAckMarks, then wraps
	floor   uint64    // position before the oldest mark

	acked  func() (acked uint64, reset bool, ok bool) // nil: unknown
	now    func() time.Time
	frozen bool // the connection ended: floor is its position
}

// maxAckMarks bounds the marks a tracker keeps besides the newest; older
// ones count as acknowledged.
const maxAckMarks = 256

// markStep is how far apart in time the ring's marks are: a write's mark
// joins the ring when the next event's write comes only if it is markStep
// newer than the ring's newest; else the next one replaces it. A position
// that cannot use the newest mark (not acknowledged, or within the refresh
// grace of a reset) thus falls back at most markStep further than an
// exact one (more duplicates, never a loss), and at 10 writes a second a
// connection stores a third of its marks, at 100 a second one in 25.
const markStep = refreshGrace / 4

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
	if seq == 0 || a.frozen {
		a.mu.Unlock()
		return
	}
	if a.newest.seq != 0 && (a.n == 0 || a.newest.at-a.ringAt >= int64(markStep)) {
		a.pushLocked(a.newest)
	}
	a.newest = ackMark{end: a.written, seq: seq, at: now}
	a.mu.Unlock()
}

// pushLocked adds m to the ring as its newest mark.
func (a *ackTracker) pushLocked(m ackMark) {
	a.ringAt = m.at
	switch {
	case len(a.ring) < maxAckMarks:
		// Still growing: the marks are in order from index 0 (head is 0).
		a.ring = append(a.ring, m)
		a.n++
	case int(a.n) == len(a.ring):
		// Full: the oldest mark gives way.
		a.floor = a.ring[a.head].seq
		a.ring[a.head] = m
		a.head = a.wrap(a.head + 1)
	default:
		a.ring[a.wrap(a.head+a.n)] = m
		a.n++
	}
}

// position returns the last event the client surely had.
func (a *ackTracker) position() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.frozen {
		return a.floor
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
	counts := func(m *ackMark) bool { return !(known && m.end > acked) && m.at <= cutoff }
	// A mark that counts now, was acknowledged (or acknowledgements are
	// never known) and is older than refreshGrace counts at every later
	// call too: acknowledgements only grow, and the cutoff only moves on.
	// Such marks are dropped (they become the floor), so the ring holds
	// the last second's writes and what is still unacknowledged, and a
	// checkpoint walks those, not up to maxAckMarks.
	prunable := known || a.acked == nil
	pos, drop := a.floor, int32(0)
	for i := int32(0); i < a.n; i++ {
		m := &a.ring[a.wrap(a.head+i)]
		if !counts(m) {
			a.dropLocked(drop)
			return pos
		}
		pos = m.seq
		if prunable && m.at <= settled {
			drop = i + 1
		}
	}
	a.dropLocked(drop)
	if a.newest.seq != 0 && counts(&a.newest) {
		pos = a.newest.seq
		if prunable && a.n == 0 && a.newest.at <= settled {
			a.floor, a.newest = pos, ackMark{}
		}
	}
	return pos
}

// dropLocked removes the k oldest marks of the ring, the floor moving up
// to the last of them. Marks that do not wrap are moved to the ring's
// start, which makes it a growing ring again (appends reuse its capacity).
func (a *ackTracker) dropLocked(k int32) {
	if k == 0 {
		return
	}
	a.floor = a.ring[a.wrap(a.head+k-1)].seq
	a.head, a.n = a.wrap(a.head+k), a.n-k
	if int(a.head+a.n) <= len(a.ring) {
		copy(a.ring, a.ring[a.head:a.head+a.n])
		a.ring, a.head = a.ring[:a.n], 0
	}
}

// wrap maps i, below twice the ring's length, to an index in it (a
// comparison, not a division).
func (a *ackTracker) wrap(i int32) int32 {
	if int(i) >= len(a.ring) {
		i -= int32(len(a.ring))
	}
	return i
}

// freeze fixes the position when the connection ends (after that, the
// socket cannot be asked), and lets the marks go.
func (a *ackTracker) freeze() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.frozen {
		a.floor, a.frozen = a.positionLocked(), true
		a.ring, a.head, a.n, a.newest = nil, 0, 0, ackMark{}
	}
}
