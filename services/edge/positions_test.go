package edge

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestAckTracker(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	acked, reset := uint64(0), false
	a := newAckTracker(10, clock)
	a.setAcked(func() (uint64, bool, bool) { return acked, reset, true })
	a.wrote(100, 0, now.UnixNano()) // head: no event
	a.wrote(50, 11, now.UnixNano()) // bytes 100..150 complete event 11
	now = now.Add(markStep)         // (marks closer than markStep are thinned)
	a.wrote(50, 13, now.UnixNano()) // 150..200 complete 13
	a.wrote(25, 0, now.UnixNano())  // heartbeat
	for _, c := range []struct {
		acked uint64
		want  uint64
	}{{0, 10}, {100, 10}, {149, 10}, {150, 11}, {199, 11}, {200, 13}, {225, 13}} {
		acked = c.acked
		if got := a.position(); got != c.want {
			t.Errorf("acked %d: position %d, want %d", c.acked, got, c.want)
		}
	}

	// A peer that reset with everything acknowledged may not have read what
	// it acknowledged lately.
	now = now.Add(refreshGrace / 2)
	a.wrote(50, 15, now.UnixNano())
	acked, reset = 275, true
	if got := a.position(); got != 10 {
		t.Errorf("reset: position %d, want 10 (nothing older than the grace)", got)
	}
	now = now.Add(refreshGrace / 2)
	if got := a.position(); got != 13 {
		t.Errorf("reset, later: position %d, want 13", got)
	}
	reset = false
	if got := a.position(); got != 15 {
		t.Errorf("clean: position %d, want 15", got)
	}
	// A reset answering writes after the peer closed: what it acknowledged
	// counts.
	a.wrote(20, 16, now.UnixNano())
	reset = true
	if got := a.position(); got != 15 {
		t.Errorf("reset after late writes: position %d, want 15", got)
	}

	acked = 200
	a.freeze()
	acked = 275
	if got := a.position(); got != 13 {
		t.Errorf("frozen position %d, want 13", got)
	}

	// Unknown acknowledgements: what was written counts.
	b := newAckTracker(5, clock)
	b.wrote(10, 6, now.UnixNano())
	if got := b.position(); got != 6 {
		t.Errorf("unknown acks: position %d, want 6", got)
	}

	// Marks older than the ring: the floor moves up with them (the ring
	// holds 256, the newest is kept beside it).
	c := newAckTracker(0, clock)
	c.setAcked(func() (uint64, bool, bool) { return 0, false, true })
	for i := range 300 {
		c.wrote(1, uint64(i+1), now.Add(time.Duration(i)*markStep).UnixNano())
	}
	if got := c.position(); got != 300-257 {
		t.Errorf("beyond the ring: position %d, want %d", got, 300-257)
	}

	// Events written closer together than markStep: the newest is exact;
	// behind it, the position falls back to a mark at most markStep
	// older (more duplicates, never a loss).
	d := newAckTracker(0, clock)
	var dAcked uint64
	d.setAcked(func() (uint64, bool, bool) { return dAcked, false, true })
	start := now
	for i := range 20 { // 10 ms apart
		d.wrote(10, uint64(i+1), start.Add(time.Duration(i)*10*time.Millisecond).UnixNano())
	}
	dAcked = 200
	if got := d.position(); got != 20 {
		t.Errorf("all acknowledged: position %d, want 20", got)
	}
	dAcked = 195 // event 20 not in full
	if got := d.position(); got != 1 {
		t.Errorf("the newest not acknowledged: position %d, want 1 (the ring's one mark: 2..19 were within markStep of it)", got)
	}
}

// TestAckTrackerPrunes checks that keeping marks markStep apart, and
// dropping settled ones (acknowledged and older than refreshGrace), only
// ever makes a position older, by at most markStep, and never one the
// client may not have had: a tracker is driven with random writes,
// acknowledgements, resets and clock steps, and after every step its
// position is compared with one computed from every write it was told of.
func TestAckTrackerPrunes(t *testing.T) {
	type write struct {
		end, seq uint64
		at       int64
	}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		now := time.Unix(1000, 0)
		acked, reset, known := uint64(0), false, true
		a := newAckTracker(7, func() time.Time { return now })
		a.setAcked(func() (uint64, bool, bool) { return acked, reset, known })
		var all []write
		written, seq, maxMarks := uint64(0), uint64(7), 0
		// bounds returns the exact position (from every write) and the
		// lowest the tracker may answer: it keeps marks markStep apart, so
		// it may fall back that far behind the exact one, never further.
		bounds := func() (lo, hi uint64, ok map[uint64]bool) {
			cutoff := int64(1<<63 - 1)
			if reset && acked >= written {
				cutoff = now.Add(-refreshGrace).UnixNano()
			}
			k := 0
			for i, w := range all {
				if (known && w.end > acked) || w.at > cutoff {
					break
				}
				k = i + 1
			}
			lo, hi, ok = 7, 7, map[uint64]bool{7: true}
			if k == 0 {
				return lo, hi, ok
			}
			hi = all[k-1].seq
			for _, w := range all[:k] {
				ok[w.seq] = true
				if w.at <= all[k-1].at-int64(markStep) {
					lo = w.seq
				}
			}
			return lo, hi, ok
		}
		for step := range 400 {
			switch r.IntN(6) {
			case 0, 1: // a write completing an event (under the ring's bound)
				if len(all) < maxAckMarks-1 {
					n := 1 + r.IntN(50)
					seq += 1 + uint64(r.IntN(3))
					written += uint64(n)
					a.wrote(n, seq, now.UnixNano())
					all = append(all, write{written, seq, now.UnixNano()})
				}
			case 2: // a heartbeat
				written += 3
				a.wrote(3, 0, now.UnixNano())
			case 3: // the peer acknowledges some of it
				acked += uint64(r.IntN(int(written-acked) + 1))
			case 4: // time passes
				now = now.Add(time.Duration(r.IntN(int(refreshGrace/2))) + 1)
			case 5: // the socket says something else
				reset = r.IntN(4) == 0
				known = r.IntN(8) != 0
			}
			got := a.position()
			if lo, hi, ok := bounds(); got < lo || got > hi || !ok[got] {
				t.Fatalf("seed %d step %d: position %d, want an event the client had in [%d, %d]", seed, step, got, lo, hi)
			}
			maxMarks = max(maxMarks, int(a.n))
		}
		if len(all) > 100 && maxMarks == len(all) {
			t.Errorf("seed %d: %d marks kept of %d written: none was dropped", seed, maxMarks, len(all))
		}
	}
}

// TestAckTrackerSettles checks that a connection writing for a long time,
// all of it read, keeps only its last second of marks, markStep apart.
func TestAckTrackerSettles(t *testing.T) {
	now := time.Unix(1000, 0)
	written := uint64(0)
	a := newAckTracker(0, func() time.Time { return now })
	a.setAcked(func() (uint64, bool, bool) { return written, false, true })
	for i := range uint64(10_000) { // 10 events a second for 1,000 s
		a.wrote(100, i+1, now.UnixNano())
		written += 100
		now = now.Add(100 * time.Millisecond)
		if i%50 == 49 { // a checkpoint every 5 s
			if got := a.position(); got != i+1 {
				t.Fatalf("event %d: position %d", i+1, got)
			}
		}
	}
	// The last second's marks, markStep apart, and room for one interval's
	// (5 s / markStep).
	if a.n > int32(refreshGrace/markStep)+1 || cap(a.ring) > 32 {
		t.Errorf("%d marks kept, ring capacity %d: want at most %d and 32", a.n, cap(a.ring), refreshGrace/markStep+1)
	}
}

func BenchmarkAckTrackerWrote(b *testing.B) {
	a := newAckTracker(0, time.Now)
	a.setAcked(func() (uint64, bool, bool) { return 0, false, true })
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.wrote(100, uint64(i+1), int64(i))
	}
}
