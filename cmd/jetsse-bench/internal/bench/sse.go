package bench

import (
	"bytes"
	"errors"
	"fmt"
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

// jsonUint finds pattern (`"key":`) in a JSON payload, at any depth so it
// also works inside a peer's envelope, and returns the number after it.
// It does not allocate: it runs for every delivered event.
func jsonUint(data []byte, pattern string) (uint64, bool) {
	i := bytes.Index(data, []byte(pattern))
	if i < 0 {
		return 0, false
	}
	j := i + len(pattern)
	for j < len(data) && data[j] == ' ' {
		j++
	}
	k := j
	for k < len(data) && data[k] >= '0' && data[k] <= '9' {
		k++
	}
	return parseDecimal(data[j:k])
}

// PayloadTime returns the publisher's send time (unix nanos) carried by an
// event's data: the "t" member of a JSON object, or the whole payload as a
// decimal.
func PayloadTime(data []byte) (int64, bool) {
	if v, ok := parseDecimal(data); ok {
		return int64(v), true
	}
	v, ok := jsonUint(data, `"t":`)
	return int64(v), ok
}

// PayloadCounter returns the publisher's counter, the "n" member of the
// event's data.
func PayloadCounter(data []byte) (uint64, bool) {
	return jsonUint(data, `"n":`)
}

// forEachPayload calls fn with the send time and counter of every payload
// ({"t":T,"n":N...}) in data, in order: one for an event that is a payload
// or wraps one, several for a frame that batches them. It does not
// allocate.
func forEachPayload(data []byte, fn func(t int64, n uint64)) {
	for {
		i := bytes.Index(data, []byte(`"t":`))
		if i < 0 {
			return
		}
		data = data[i+len(`"t":`):]
		t, ok := leadingUint(data)
		if !ok {
			continue
		}
		j := bytes.Index(data, []byte(`"n":`))
		if j < 0 {
			return
		}
		data = data[j+len(`"n":`):]
		if n, ok := leadingUint(data); ok {
			fn(int64(t), n)
		}
	}
}

// leadingUint parses the decimal number at the start of b (after spaces).
func leadingUint(b []byte) (uint64, bool) {
	j := 0
	for j < len(b) && b[j] == ' ' {
		j++
	}
	k := j
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	return parseDecimal(b[j:k])
}

// lastJSONValue returns the value of the last member named key in a JSON
// text, at any depth: a string's contents (escapes are not decoded) or a
// number, true, false or null as written. It does not allocate.
func lastJSONValue(data []byte, key string) ([]byte, bool) {
	// Search for "key": without building the pattern.
	rest := data
	var found []byte
	for {
		i := bytes.Index(rest, []byte(key))
		if i < 0 {
			break
		}
		after := rest[i+len(key):]
		if i > 0 && rest[i-1] == '"' && len(after) > 1 && after[0] == '"' && after[1] == ':' {
			found = after[2:]
		}
		rest = after
	}
	if found == nil {
		return nil, false
	}
	for len(found) > 0 && found[0] == ' ' {
		found = found[1:]
	}
	if len(found) > 0 && found[0] == '"' {
		end := bytes.IndexByte(found[1:], '"')
		if end < 0 {
			return nil, false
		}
		return found[1 : 1+end], true
	}
	end := bytes.IndexAny(found, ",}] \t\r\n")
	if end < 0 {
		end = len(found)
	}
	if end == 0 {
		return nil, false
	}
	return found[:end], true
}

// AppendPayload appends the payload the publishers send: {"t":T,"n":N},
// padded with a "p" member to at least size bytes.
func AppendPayload(dst []byte, t int64, n uint64, size int) []byte {
	start := len(dst)
	dst = append(dst, `{"t":`...)
	dst = appendUint(dst, uint64(t))
	dst = append(dst, `,"n":`...)
	dst = appendUint(dst, n)
	if pad := size - (len(dst) - start) - len(`,"p":""}`); pad > 0 {
		dst = append(dst, `,"p":"`...)
		for range pad {
			dst = append(dst, 'x')
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func appendUint(dst []byte, v uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// chunkDecoder decodes an HTTP/1.1 chunked body incrementally, handing each
// run of body bytes to a Parser. It keeps no buffer of its own.
type chunkDecoder struct {
	state int
	size  uint64 // size of the chunk being read
	left  uint64 // body bytes left in the chunk
	digs  int
}

const (
	chunkSize    = iota // reading hex digits
	chunkExt            // skipping a chunk extension up to LF
	chunkData           // copying body bytes
	chunkDataEnd        // expecting the CRLF after a chunk's data
	chunkTrailer        // reading trailer lines after the last chunk
	chunkTrailerLine
	chunkDone
)

// errBadChunk reports malformed chunked framing.
var errBadChunk = errors.New("http: malformed chunked encoding")

// feed decodes raw bytes; done reports the end of the body.
func (d *chunkDecoder) feed(b []byte, p *Parser) (done bool, err error) {
	for len(b) > 0 {
		switch d.state {
		case chunkSize:
			c := b[0]
			b = b[1:]
			switch {
			case c >= '0' && c <= '9':
				d.size = d.size<<4 | uint64(c-'0')
				d.digs++
			case c >= 'a' && c <= 'f':
				d.size = d.size<<4 | uint64(c-'a'+10)
				d.digs++
			case c >= 'A' && c <= 'F':
				d.size = d.size<<4 | uint64(c-'A'+10)
				d.digs++
			case c == ';' || c == ' ' || c == '\t':
				d.state = chunkExt
			case c == '\r':
			case c == '\n':
				if err := d.endSize(); err != nil {
					return false, err
				}
			default:
				return false, fmt.Errorf("%w: byte %q in chunk size", errBadChunk, c)
			}
			if d.digs > 15 {
				return false, fmt.Errorf("%w: chunk size too large", errBadChunk)
			}
		case chunkExt:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return false, nil
			}
			b = b[i+1:]
			if err := d.endSize(); err != nil {
				return false, err
			}
		case chunkData:
			n := uint64(len(b))
			if n > d.left {
				n = d.left
			}
			if err := p.Feed(b[:n]); err != nil {
				return false, err
			}
			b = b[n:]
			d.left -= n
			if d.left == 0 {
				d.state = chunkDataEnd
			}
		case chunkDataEnd:
			c := b[0]
			b = b[1:]
			switch c {
			case '\r':
			case '\n':
				d.state, d.size, d.digs = chunkSize, 0, 0
			default:
				return false, fmt.Errorf("%w: no CRLF after chunk data", errBadChunk)
			}
		case chunkTrailer, chunkTrailerLine:
			// A line holding only CRLF ends the trailer.
			c := b[0]
			b = b[1:]
			switch {
			case c == '\n' && d.state == chunkTrailer:
				d.state = chunkDone
				return true, nil
			case c == '\n':
				d.state = chunkTrailer
			case c != '\r':
				d.state = chunkTrailerLine
			}
		case chunkDone:
			return true, nil
		}
	}
	return d.state == chunkDone, nil
}

func (d *chunkDecoder) endSize() error {
	if d.digs == 0 {
		return fmt.Errorf("%w: empty chunk size", errBadChunk)
	}
	if d.size == 0 {
		d.state = chunkTrailer
		return nil
	}
	d.state, d.left = chunkData, d.size
	return nil
}
