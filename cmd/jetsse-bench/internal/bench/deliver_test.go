package bench

import "testing"

func TestSeqWindow(t *testing.T) {
	var w seqWindow
	last := uint64(0)
	recv := func(seq uint64) bool {
		if seq > last {
			w.advance(seq - last)
			last = seq
			return true
		}
		return w.mark(last - seq)
	}
	for _, tt := range []struct {
		seq  uint64
		want bool
	}{
		{1, true}, {3, true}, {2, true}, {2, false}, {3, false}, {1, false},
		{70, true}, {5, true}, {5, false}, {4, true}, {1000, true}, {69, true}, {69, false},
		{2000, true}, {1000, false}, {1977, true}, {1977, false}, {3, false},
	} {
		if got := recv(tt.seq); got != tt.want {
			t.Errorf("seq %d (last %d): new = %v, want %v", tt.seq, last, got, tt.want)
		}
	}
}
