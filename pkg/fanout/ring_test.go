package fanout

import (
	"fmt"
	"slices"
	"testing"
)

// TestRingMatching: the events after a position, filtered by topic, come
// out in order whatever the ring's fill and wrap, against a plain walk.
func TestRingMatching(t *testing.T) {
	even := func(tp string) bool { return tp == "even" }
	for _, size := range []int{1, 2, 3, 8} {
		for pushed := 0; pushed <= 3*size; pushed++ {
			r := newRing(size)
			for seq := 1; seq <= pushed; seq++ {
				if r.n == size {
					r.pop()
				}
				tp := "odd"
				if seq%2 == 0 {
					tp = "even"
				}
				r.push(&Event{Seq: uint64(seq), Topic: tp, Frame: []byte("x")})
			}
			for after := 0; after <= pushed+1; after++ {
				var want []uint64
				var wantLast uint64
				for i := 0; i < r.n; i++ {
					if ev := r.at(i); ev.Seq > uint64(after) {
						wantLast = ev.Seq
						if even(ev.Topic) {
							want = append(want, ev.Seq)
						}
					}
				}
				got, last := r.matching(uint64(after), even)
				var gotSeqs []uint64
				for _, ev := range got {
					gotSeqs = append(gotSeqs, ev.Seq)
				}
				gotLast := uint64(0)
				if last != nil {
					gotLast = last.Seq
				}
				if !slices.Equal(gotSeqs, want) || gotLast != wantLast {
					t.Fatalf("%s: got %v (last %d), want %v (last %d)",
						fmt.Sprintf("size %d, %d pushed, after %d", size, pushed, after), gotSeqs, gotLast, want, wantLast)
				}
			}
		}
	}
}
