package fanout

// ring is a circular buffer of events in sequence order.
type ring struct {
	buf   []*Event
	head  int // index of the oldest
	n     int
	bytes int
}

func (r *ring) push(ev *Event) {
	r.buf[(r.head+r.n)%len(r.buf)] = ev
	r.n++
	r.bytes += len(ev.Frame)
}

func (r *ring) pop() *Event {
	ev := r.buf[r.head]
	r.buf[r.head] = nil
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

// since returns the events with Seq > after, oldest first, in a new slice.
func (r *ring) since(after uint64) []*Event {
	lo := r.search(after + 1)
	out := make([]*Event, 0, r.n-lo)
	for i := lo; i < r.n; i++ {
		out = append(out, r.at(i))
	}
	return out
}
