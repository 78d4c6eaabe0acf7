package sse

import (
	"errors"
	"io"
	"strconv"
	"time"
)

// Event is one server-sent event.
//
// ID is written as the "id" field when non-empty, Type as the "event" field
// when non-empty, and Data as one "data" line per line of the payload.
type Event struct {
	ID   string
	Type string
	Data []byte
}

// AppendEvent appends the wire form of ev to dst and returns the extended
// buffer. The result is always one complete event ending in a blank line:
//
//   - Data is split at every CR, LF or CRLF into "data:" lines, so a client
//     sees each line break as one LF; an empty payload is still sent as one
//     empty "data:" line, so the event is dispatched.
//   - CR and LF are removed from Type, and CR, LF and NUL from ID (a NUL would
//     make a client ignore the id), so neither can start a new field.
//
// AppendEvent is safe for concurrent use; it does not retain dst or ev.
func AppendEvent(dst []byte, ev Event) []byte {
	if ev.ID != "" {
		dst = append(dst, "id: "...)
		dst = appendClean(dst, ev.ID, true)
		dst = append(dst, '\n')
	}
	if ev.Type != "" {
		dst = append(dst, "event: "...)
		dst = appendClean(dst, ev.Type, false)
		dst = append(dst, '\n')
	}
	return appendData(dst, ev.Data)
}

// AppendEventWithSeq is AppendEvent with a decimal id, without converting the
// sequence to a string first. It is the hot path for JetStream sequences.
func AppendEventWithSeq(dst []byte, seq uint64, typ string, data []byte) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, '\n')
	if typ != "" {
		dst = append(dst, "event: "...)
		dst = appendClean(dst, typ, false)
		dst = append(dst, '\n')
	}
	return appendData(dst, data)
}

func appendData(dst []byte, data []byte) []byte {
	start := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '\n' && c != '\r' {
			continue
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[start:i]...)
		dst = append(dst, '\n')
		if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		start = i + 1
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data[start:]...)
	return append(dst, '\n', '\n')
}

// CleanType returns typ as a client will see it after AppendEvent: without CR
// and LF.
func CleanType(typ string) string { return string(appendClean(nil, typ, false)) }

// CleanID returns id as a client will see it after AppendEvent: without CR,
// LF and NUL.
func CleanID(id string) string { return string(appendClean(nil, id, true)) }

func appendClean(dst []byte, s string, dropNUL bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' || (dropNUL && c == 0) {
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// AppendComment appends a comment line (": text") to dst. Line breaks in text
// are replaced by spaces so the comment stays one line. Clients ignore
// comments; they keep idle connections alive through proxies.
func AppendComment(dst []byte, text string) []byte {
	dst = append(dst, ':')
	if text != "" {
		dst = append(dst, ' ')
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c == '\r' || c == '\n' {
				c = ' '
			}
			dst = append(dst, c)
		}
	}
	return append(dst, '\n')
}

// AppendRetry appends a "retry" field with d in whole milliseconds, followed
// by a blank line. Negative durations are written as 0.
func AppendRetry(dst []byte, d time.Duration) []byte {
	ms := d.Milliseconds()
	if ms < 0 {
		ms = 0
	}
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, '\n', '\n')
}

// WriteTo writes the wire form of e to w.
func (e Event) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(AppendEvent(nil, e))
	return int64(n), err
}

// ErrInvalidLastEventID is returned by ParseLastEventID for a value that is
// not a decimal event ID.
var ErrInvalidLastEventID = errors.New("Last-Event-ID must be a decimal event ID")

// MaxLastEventIDLen is the longest Last-Event-ID accepted (the decimal form
// of the largest uint64 has 20 digits).
const MaxLastEventIDLen = 20

// ParseLastEventID parses a Last-Event-ID value as a JetStream stream
// sequence: ASCII digits only, no sign, no spaces, at most 20 digits and
// within uint64. The empty string is not valid; callers treat an absent
// header separately.
func ParseLastEventID(s string) (uint64, error) {
	if s == "" || len(s) > MaxLastEventIDLen {
		return 0, ErrInvalidLastEventID
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrInvalidLastEventID
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, ErrInvalidLastEventID
	}
	return v, nil
}
