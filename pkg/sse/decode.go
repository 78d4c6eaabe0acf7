package sse

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"time"
)

// Decoder reads events from a text/event-stream, following the WHATWG
// "interpreting an event stream" algorithm: one leading BOM is skipped, CR, LF
// and CRLF all end a line, a blank line dispatches, comments and unknown
// fields are ignored, an id containing NUL is ignored, the last event ID
// persists across events, an event with no data is not dispatched, and an
// unterminated event at the end of the stream is discarded.
//
// Payload bytes are returned as they were received (no UTF-8 replacement).
// A Decoder is not safe for concurrent use.
type Decoder struct {
	r *bufio.Reader

	started   bool
	prevCR    bool // the previous line ended with CR: skip one LF
	line      []byte
	data      []byte
	hasData   bool
	eventType []byte
	idBuf     []byte // the last event ID buffer: becomes lastID at dispatch
	lastID    []byte

	// Retry is the last valid "retry" value seen (0 if none).
	Retry time.Duration
	// Comments counts the comment lines seen so far.
	Comments int
	// OnComment, if set, is called with the text of each comment line (after
	// the colon, with one leading space removed).
	OnComment func(text []byte)
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 32<<10)}
}

// LastEventID returns the decoder's last event ID string: what a browser
// would send as Last-Event-ID on its next reconnect.
func (d *Decoder) LastEventID() string { return string(d.lastID) }

// Next returns the next dispatched event. Event.ID is the last event ID at
// dispatch time, Event.Type is the event type buffer ("" means "message").
// At the end of the stream it returns io.EOF (or the reader's error); an
// unterminated event is discarded.
func (d *Decoder) Next() (Event, error) {
	for {
		line, err := d.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if ev, ok := d.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		d.processLine(line)
	}
}

func (d *Decoder) dispatch() (Event, bool) {
	// The spec sets the last event ID string when an event is dispatched
	// (even one without data), never for an event cut off by the end.
	d.lastID = append(d.lastID[:0], d.idBuf...)
	if !d.hasData {
		d.eventType = d.eventType[:0]
		return Event{}, false
	}
	data := d.data
	if n := len(data); n > 0 && data[n-1] == '\n' {
		data = data[:n-1]
	}
	ev := Event{
		ID:   string(d.lastID),
		Type: string(d.eventType),
		Data: bytes.Clone(data),
	}
	if ev.Data == nil {
		ev.Data = []byte{}
	}
	d.data = d.data[:0]
	d.hasData = false
	d.eventType = d.eventType[:0]
	return ev, true
}

func (d *Decoder) processLine(line []byte) {
	if line[0] == ':' {
		d.Comments++
		if d.OnComment != nil {
			text := line[1:]
			if len(text) > 0 && text[0] == ' ' {
				text = text[1:]
			}
			d.OnComment(text)
		}
		return
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "event":
		d.eventType = append(d.eventType[:0], value...)
	case "data":
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
		d.hasData = true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			d.idBuf = append(d.idBuf[:0], value...)
		}
	case "retry":
		if len(value) > 0 && allDigits(value) {
			if ms, err := strconv.ParseInt(string(value), 10, 64); err == nil {
				d.Retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// readLine returns the next line without its terminator. The returned slice
// is valid until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	if !d.started {
		d.started = true
		if b, err := d.r.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
			_, _ = d.r.Discard(3)
		}
	}
	d.line = d.line[:0]
	for {
		if d.prevCR {
			b, err := d.r.Peek(1)
			if err != nil {
				return nil, err
			}
			d.prevCR = false
			if b[0] == '\n' {
				_, _ = d.r.Discard(1)
			}
		}
		buf, err := d.r.Peek(d.r.Buffered())
		if len(buf) == 0 {
			if _, err = d.r.Peek(1); err != nil {
				return nil, err
			}
			continue
		}
		if i := bytes.IndexAny(buf, "\r\n"); i >= 0 {
			d.line = append(d.line, buf[:i]...)
			d.prevCR = buf[i] == '\r'
			_, _ = d.r.Discard(i + 1)
			return d.line, nil
		}
		d.line = append(d.line, buf...)
		_, _ = d.r.Discard(len(buf))
		_ = err
	}
}
