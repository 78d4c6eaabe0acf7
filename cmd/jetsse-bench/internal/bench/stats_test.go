package bench

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(i, time.Duration(i)*time.Millisecond)
	}
	s := h.Summary()
	check := func(name string, got, want float64) {
		if got < want*0.98 || got > want*1.02 {
			t.Errorf("%s = %g, want ≈ %g", name, got, want)
		}
	}
	check("p50", s.P50Ms, 500)
	check("p90", s.P90Ms, 900)
	check("p99", s.P99Ms, 990)
	check("mean", s.MeanMs, 500.5)
	if s.MaxMs != 1000 || s.MinMs != 1 || s.Count != 1000 {
		t.Errorf("summary %+v", s)
	}
	for v := uint64(0); v < 1<<20; v = v*9/8 + 1 {
		b := bucketOf(v)
		if lo, hi := bucketLow(b), bucketLow(b+1); v < lo || v >= hi {
			t.Fatalf("value %d in bucket %d [%d, %d)", v, b, lo, hi)
		}
	}
}
