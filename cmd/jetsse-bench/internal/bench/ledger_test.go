package bench

import "testing"

func TestCountAbove(t *testing.T) {
	s := []uint64{3, 5, 7, 9}
	for _, c := range []struct {
		v    uint64
		want int
	}{{0, 4}, {3, 3}, {4, 3}, {9, 0}, {10, 0}} {
		if got := countAbove(s, c.v); got != c.want {
			t.Errorf("countAbove(%d) = %d, want %d", c.v, got, c.want)
		}
	}
}
