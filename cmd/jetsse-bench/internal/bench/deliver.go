package bench

import (
	"encoding/json"
	"time"
)

// attached counts the client's first attachment in this Run.
func (c *Client) attached() {
	if !c.gotSess {
		c.gotSess = true
		c.fleet.Ready.Add(1)
		c.fleet.poke()
	}
}

// onEvent handles one event on the client's goroutine.
func (c *Client) onEvent(ev *Event) {
	f := c.fleet
	switch string(ev.Type) {
	case "session":
		var s struct {
			Session string `json:"session"`
			Resumed bool   `json:"resumed"`
		}
		_ = json.Unmarshal(ev.Data, &s)
		c.SessionID, c.Resumed = s.Session, s.Resumed
		if !s.Resumed && c.presented {
			f.NotResumed.Add(1)
		}
		c.attached()
		return
	case "gap":
		f.Gaps.Add(1)
		return
	case "takeover":
		f.Takeovers.Add(1)
		return
	}
	if f.cfg.SSE.Attach == AttachFirst {
		c.attached()
	}
	now := time.Now().UnixNano()
	if ev.HasID {
		c.LastEventID = append(c.LastEventID[:0], ev.ID...)
	}
	for i, key := range f.ep.resume.keys {
		if v, ok := lastJSONValue(ev.Data, key); ok {
			c.captured[i] = append(c.captured[i][:0], v...)
		}
	}
	if f.cfg.SSE.Seq == SeqData {
		// A peer may carry several events in one frame (Centrifugo's
		// recovered publications): each payload counts.
		forEachPayload(ev.Data, func(t int64, n uint64) { c.deliver(now, n, n, t, true) })
		return
	}
	seq, ok := parseDecimal(ev.ID)
	if !ok {
		return
	}
	t, hasT := PayloadTime(ev.Data)
	var n uint64
	if f.cfg.Acks != nil {
		n, _ = PayloadCounter(ev.Data)
	}
	c.deliver(now, seq, n, t, hasT)
}

// deliver counts one event with sequence seq and publisher counter n (0:
// unknown), received at now and sent at t (when hasT).
func (c *Client) deliver(now int64, seq, n uint64, t int64, hasT bool) {
	f := c.fleet
	if last := c.LastSeq.Load(); seq <= last {
		// With publisher counters, concurrent publishers may have the
		// server store events slightly out of counter order: a counter
		// not seen yet within the window is new. Stream sequences arrive
		// in order, so below the last one is always a duplicate.
		if f.cfg.SSE.Seq != SeqData || !c.window.mark(last-seq) {
			c.Dup.Add(1)
			return
		}
	} else {
		c.window.advance(seq - last)
		c.LastSeq.Store(seq)
	}
	c.LastRecv.Store(now)
	c.Recv.Add(1)
	c.FirstAt.CompareAndSwap(0, now)
	if f.cfg.Latency && hasT {
		f.Hist.Record(c.idx, time.Duration(now-t))
		if f.cfg.Acks != nil {
			if at := f.cfg.Acks.AckAt(n); at != 0 {
				f.AckHist.Record(c.idx, time.Duration(now-at))
			} else {
				f.BeforeAck.Add(1)
				f.AckHist.Record(c.idx, 0)
			}
		}
	}
	if tg := c.target.Load(); tg != 0 && seq >= tg && c.CaughtAt.Load() == 0 {
		c.markCaught(now)
	}
}

// seqWindow remembers which of the 1,024 sequences at and below a client's
// last one it received: bit i stands for last - i.
type seqWindow struct {
	bits [16]uint64
}

const seqWindowLen = 16 * 64

// advance moves the window up by n for a new last sequence, which it marks.
func (w *seqWindow) advance(n uint64) {
	if n >= seqWindowLen {
		w.bits = [16]uint64{}
	} else {
		words, rem := int(n/64), n%64
		for i := len(w.bits) - 1; i >= 0; i-- {
			var v uint64
			if j := i - words; j >= 0 {
				v = w.bits[j] << rem
				if rem > 0 && j > 0 {
					v |= w.bits[j-1] >> (64 - rem)
				}
			}
			w.bits[i] = v
		}
	}
	w.bits[0] |= 1
}

// mark marks last - back as received; false means it was already, or is
// too far below to tell.
func (w *seqWindow) mark(back uint64) bool {
	if back >= seqWindowLen {
		return false
	}
	word, bit := back/64, uint64(1)<<(back%64)
	if w.bits[word]&bit != 0 {
		return false
	}
	w.bits[word] |= bit
	return true
}
