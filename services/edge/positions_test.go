package edge

import (
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

	// Marks older than the ring: the floor moves up with them.
	c := newAckTracker(0, clock)
	c.setAcked(func() (uint64, bool, bool) { return 0, false, true })
	for i := range 300 {
		c.wrote(1, uint64(i+1), now.UnixNano())
	}
	if got := c.position(); got != 300-256 {
		t.Errorf("beyond the ring: position %d, want %d", got, 300-256)
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
