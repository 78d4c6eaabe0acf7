package bench

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Ack is one acknowledged publish: the publisher's counter and the event id
// the server assigned (0 when the server does not say).
type Ack struct {
	N, ID uint64
}

// Ledger records a run's publishes: how many were sent, acknowledged (with
// their ids) and failed. It is safe for concurrent use.
type Ledger struct {
	Sent   atomic.Uint64
	Acked  atomic.Uint64
	Failed atomic.Uint64
	MaxID  atomic.Uint64 // highest acknowledged id
	MaxN   atomic.Uint64 // highest acknowledged counter

	// ackAt[n] is when counter n was acknowledged (unix nanos), for
	// counters below len(ackAt) (TrackAckTimes).
	ackAt []atomic.Int64

	mu   sync.Mutex
	acks []Ack
	errs map[string]int
}

// TrackAckTimes makes the ledger record when each of the counters 1..n is
// acknowledged (AckAt). Call it before the first publish.
func (l *Ledger) TrackAckTimes(n int) {
	l.ackAt = make([]atomic.Int64, n+1)
}

// AckAt returns when counter n was acknowledged (unix nanos), or 0 when it
// was not (yet) or is not tracked. It is safe to call while publishing.
func (l *Ledger) AckAt(n uint64) int64 {
	if n < uint64(len(l.ackAt)) {
		return l.ackAt[n].Load()
	}
	return 0
}

func (l *Ledger) ack(n, id uint64) {
	if n < uint64(len(l.ackAt)) {
		l.ackAt[n].Store(time.Now().UnixNano())
	}
	l.mu.Lock()
	l.acks = append(l.acks, Ack{N: n, ID: id})
	l.mu.Unlock()
	storeMax(&l.MaxID, id)
	storeMax(&l.MaxN, n)
	l.Acked.Add(1)
}

func (l *Ledger) fail(err error) {
	l.Failed.Add(1)
	msg := err.Error()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.errs == nil {
		l.errs = map[string]int{}
	}
	if len(l.errs) < 20 || l.errs[msg] > 0 {
		l.errs[msg]++
	}
}

func storeMax(a *atomic.Uint64, v uint64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

// Acks returns the acknowledged publishes sorted by counter.
func (l *Ledger) Acks() []Ack {
	l.mu.Lock()
	a := slices.Clone(l.acks)
	l.mu.Unlock()
	slices.SortFunc(a, func(x, y Ack) int { return cmpU64(x.N, y.N) })
	return a
}

// Seqs returns the acknowledged sequences under mode, sorted.
func (l *Ledger) Seqs(mode SeqMode) []uint64 {
	l.mu.Lock()
	s := make([]uint64, len(l.acks))
	for i, a := range l.acks {
		if mode == SeqData {
			s[i] = a.N
		} else {
			s[i] = a.ID
		}
	}
	l.mu.Unlock()
	slices.Sort(s)
	return s
}

// MaxSeq returns the highest acknowledged sequence under mode.
func (l *Ledger) MaxSeq(mode SeqMode) uint64 {
	if mode == SeqData {
		return l.MaxN.Load()
	}
	return l.MaxID.Load()
}

// Errors returns the distinct publish errors (at most 20) with counts.
func (l *Ledger) Errors() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int, len(l.errs))
	for k, v := range l.errs {
		m[k] = v
	}
	return m
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// countAbove returns how many of the sorted seqs are above v.
func countAbove(sorted []uint64, v uint64) int {
	i, found := slices.BinarySearch(sorted, v)
	if found {
		i++
	}
	return len(sorted) - i
}
