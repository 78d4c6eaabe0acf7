package bench

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// responseHead is what a subscriber needs from a response head.
type responseHead struct {
	status  int
	chunked bool
	length  int64 // Content-Length, or -1
	token   string
}

// readHead reads a response head into buf and returns it with the body
// bytes that followed it in buf.
func readHead(conn net.Conn, buf []byte) (responseHead, []byte, error) {
	n := 0
	for {
		if n == len(buf) {
			return responseHead{}, nil, errors.New("response head larger than the read buffer")
		}
		m, err := conn.Read(buf[n:])
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
			h, err := parseHead(buf[:i+2])
			return h, buf[i+4 : n], err
		}
		if err != nil {
			return responseHead{}, nil, fmt.Errorf("reading response head: %w", err)
		}
	}
}

func parseHead(b []byte) (responseHead, error) {
	h := responseHead{length: -1}
	line, rest, _ := bytes.Cut(b, []byte("\r\n"))
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return h, fmt.Errorf("bad status line %q", line)
	}
	st, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return h, fmt.Errorf("bad status line %q", line)
	}
	h.status = st
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Content-Length")):
			if v, ok := parseDecimal(value); ok {
				h.length = int64(v)
			}
		case bytes.EqualFold(name, []byte(SessionHeader)):
			h.token = string(value)
		case bytes.EqualFold(name, []byte("Set-Cookie")) && h.token == "":
			if v, ok := bytes.CutPrefix(value, []byte(CookieName+"=")); ok {
				v, _, _ = bytes.Cut(v, []byte(";"))
				h.token = string(v)
			}
		}
	}
	return h, nil
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
