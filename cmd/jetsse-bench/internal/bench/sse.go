package bench

import (
	"bytes"
	"errors"
)

// Event is one dispatched server-sent event. Its slices alias the parser's
// buffers: they are valid only during the callback that receives them.
type Event struct {
	ID    []byte // the id field of this event; nil when it had none
	HasID bool
	Type  []byte // the event field; empty for the default "message" type
	Data  []byte // data lines joined by LF, without the final LF
}

// Parser is an incremental text/event-stream parser (the WHATWG
// "interpreting an event stream" rules): lines end in CR, LF or CRLF, even
// across Feed calls; ":" lines are comments; "data" lines accumulate; a
// blank line dispatches an event that has data.
//
// A Parser is owned by one goroutine. It allocates only while its buffers
// grow to the largest line and event seen.
type Parser struct {
	// OnEvent receives each dispatched event.
	OnEvent func(*Event)
	// OnComment, when set, is called for each comment line.
	OnComment func()
	// MaxLine bounds a line kept across Feed calls (default 1 MiB).
	MaxLine int

	// Comments counts comment lines (heartbeats).
	Comments uint64
	// Retry is the last retry field in milliseconds, or -1.
	Retry int64

	partial []byte // a line that continues in the next Feed
	skipLF  bool   // the last line ended in CR: drop a leading LF
	data    []byte
	id      []byte
	hasID   bool
	typ     []byte
	ev      Event
}

// ErrLineTooLong is returned by Feed for a line longer than MaxLine.
var ErrLineTooLong = errors.New("sse: line too long")

// NewParser returns a parser that calls onEvent for each event.
func NewParser(onEvent func(*Event)) *Parser {
	return &Parser{OnEvent: onEvent, Retry: -1}
}

// Feed parses the next bytes of the stream.
func (p *Parser) Feed(b []byte) error {
	if p.skipLF && len(b) > 0 {
		p.skipLF = false
		if b[0] == '\n' {
			b = b[1:]
		}
	}
	for len(b) > 0 {
		i := indexEOL(b)
		if i < 0 {
			max := p.MaxLine
			if max <= 0 {
				max = 1 << 20
			}
			if len(p.partial)+len(b) > max {
				return ErrLineTooLong
			}
			p.partial = append(p.partial, b...)
			return nil
		}
		line := b[:i]
		if len(p.partial) > 0 {
			p.partial = append(p.partial, line...)
			line = p.partial
		}
		if b[i] == '\r' {
			if i+1 == len(b) {
				p.skipLF = true
			} else if b[i+1] == '\n' {
				i++
			}
		}
		b = b[i+1:]
		p.line(line)
		p.partial = p.partial[:0]
	}
	return nil
}

// indexEOL returns the index of the first CR or LF in b, or -1.
func indexEOL(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	limit := i
	if limit < 0 {
		limit = len(b)
	}
	if j := bytes.IndexByte(b[:limit], '\r'); j >= 0 {
		return j
	}
	return i
}

func (p *Parser) line(line []byte) {
	if len(line) == 0 {
		p.dispatch()
		return
	}
	if line[0] == ':' {
		p.Comments++
		if p.OnComment != nil {
			p.OnComment()
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
	case "data":
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.id = append(p.id[:0], value...)
			p.hasID = true
		}
	case "event":
		p.typ = append(p.typ[:0], value...)
	case "retry":
		if v, ok := parseDecimal(value); ok {
			p.Retry = int64(v)
		}
	}
}

// newStream readies the parser for the body of a new connection: a partial
// line and an event being built are dropped, while the last event id and
// retry are kept, as EventSource keeps them across reconnects.
func (p *Parser) newStream() {
	p.partial, p.skipLF = p.partial[:0], false
	p.data, p.typ, p.hasID = p.data[:0], p.typ[:0], false
}

func (p *Parser) dispatch() {
	if len(p.data) == 0 {
		p.typ, p.hasID = p.typ[:0], false
		return
	}
	p.ev = Event{Type: p.typ, Data: p.data[:len(p.data)-1], HasID: p.hasID}
	if p.hasID {
		p.ev.ID = p.id
	}
	if p.OnEvent != nil {
		p.OnEvent(&p.ev)
	}
	p.data, p.typ, p.hasID = p.data[:0], p.typ[:0], false
}

// parseDecimal parses a non-empty run of ASCII digits that fits in uint64.
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
