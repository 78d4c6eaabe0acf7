package fanout

// ring is a circular buffer of events in sequence order.
type ring struct {
	buf []*Event
	// topics[i] is buf[i].Topic, kept beside the pointers: a subscription
	// filters the whole ring by topic (see matching), and reading the
	// topics here, in order, does not touch each event in memory.
	topics []string
	head   int // index of the oldest
	n      int
	bytes  int
}

func newRing(size int) ring {
	return ring{buf: make([]*Event, size), topics: make([]string, size)}
}

func (r *ring) push(ev *Event) {
	i := (r.head + r.n) % len(r.buf)
	r.buf[i], r.topics[i] = ev, ev.Topic
	r.n++
	r.bytes += len(ev.Frame)
}

func (r *ring) pop() *Event {
	ev := r.buf[r.head]
	r.buf[r.head], r.topics[r.head] = nil, ""
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	r.bytes -= len(ev.Frame)
	return ev
}

func (r *ring) clear() {
	for r.n > 0 {
		r.pop()
	}
	r.head = 0
}

func (r *ring) at(i int) *Event { return r.buf[(r.head+i)%len(r.buf)] }

// search returns the index of the first event with Seq >= seq.
func (r *ring) search(seq uint64) int {
	lo, hi := 0, r.n
	for lo < hi {
		mid := (lo + hi) / 2
		if r.at(mid).Seq < seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// matching returns the events with Seq > after whose topic match accepts,
// oldest first, in a new slice, and the last event after after (matching or
// not; nil if none).
func (r *ring) matching(after uint64, match func(string) bool) (out []*Event, last *Event) {
	lo := r.search(after + 1)
	if lo == r.n {
		return nil, nil
	}
	out = make([]*Event, 0, r.n-lo)
	// Events lo..n-1 lie in at most two runs of the arrays: up to their
	// end, then from 0 (no division per event).
	size := len(r.buf)
	p0, p1 := r.head+lo, r.head+r.n
	if p0 >= size {
		p0, p1 = p0-size, p1-size
	}
	for _, run := range [2][2]int{{p0, min(p1, size)}, {0, max(0, p1-size)}} {
		for j := run[0]; j < run[1]; j++ {
			if match(r.topics[j]) {
				out = append(out, r.buf[j])
			}
		}
	}
	return out, r.at(r.n - 1)
}
