package httptransport

import (
	"encoding/json"
	"errors"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/services/edge"
)

// The body of POST /publish, read without reflection: the publish path's
// profile had protojson decoding the body and encoding the answer among its
// largest costs after HTTP and JetStream themselves (docs/benchmarks.md,
// "Publishing over HTTP"). The wire form stays proto/jetsse/v1's JSON:
// the fast reader accepts only what protojson accepts, with the same
// values, and leaves everything else to protojson (FuzzParsePublish holds
// it to that); the fast writers write protojson's bytes (TestPublishAnswers).

// Errors for bodies that are not a publish, in the words clients know.
var (
	errPublishBody = errors.New(`must be one JSON object {"topic", "event", "data", "msg_id"} with string values, or {"events": [...]} of them`)
	errBatchBody   = errors.New(`must be {"events": [...]}, each event one JSON object {"topic", "event", "data", "msg_id"} with string values`)
)

// decodePublishBody reads a POST /publish body: one event (batch false) or
// {"events": [...]} (batch true).
func decodePublishBody(b []byte) (events []edge.Event, batch bool, err error) {
	if events, batch, ok := parsePublish(b); ok {
		return events, batch, nil
	}
	// Not the plain form: protojson decides, and words the error.
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) == nil {
		if _, ok := top["events"]; ok {
			var m jetssev1.PublishBatchRequest
			if err := wireUnmarshal.Unmarshal(b, &m); err != nil {
				return nil, true, errBatchBody
			}
			events = make([]edge.Event, len(m.GetEvents()))
			for i, e := range m.GetEvents() {
				events[i] = edge.Event{Topic: e.GetTopic(), Event: e.GetEvent(), Data: e.GetData(), MsgID: e.GetMsgId()}
			}
			return events, true, nil
		}
	}
	var m jetssev1.PublishRequest
	if err := wireUnmarshal.Unmarshal(b, &m); err != nil {
		return nil, false, errPublishBody
	}
	return []edge.Event{{Topic: m.GetTopic(), Event: m.GetEvent(), Data: m.GetData(), MsgID: m.GetMsgId()}}, false, nil
}

// parsePublish reads the plain form of a publish body: JSON whitespace, an
// object whose members are "topic", "event", "data" and "msg_id" (each at
// most once) with string values, or {"events": [...]} of such objects, and
// nothing after it. ok is false for anything else, valid or not.
func parsePublish(b []byte) (events []edge.Event, batch, ok bool) {
	p := jsonReader{b: b}
	p.ws()
	if !p.byte('{') {
		return nil, false, false
	}
	p.ws()
	if p.peek('}') { // {}: an event without a topic, refused as such
		p.i++
		return []edge.Event{{}}, false, p.end()
	}
	key, ok := p.str()
	if !ok {
		return nil, false, false
	}
	if key != "events" {
		var e edge.Event
		if !p.event(&e, key) {
			return nil, false, false
		}
		return []edge.Event{e}, false, p.end()
	}
	p.ws()
	if !p.byte(':') {
		return nil, false, false
	}
	p.ws()
	if !p.byte('[') {
		return nil, false, false
	}
	p.ws()
	events = []edge.Event{}
	if !p.peek(']') {
		for {
			var e edge.Event
			p.ws()
			if !p.byte('{') {
				return nil, false, false
			}
			p.ws()
			if p.peek('}') {
				p.i++
			} else {
				key, ok := p.str()
				if !ok || !p.event(&e, key) {
					return nil, false, false
				}
			}
			events = append(events, e)
			p.ws()
			if p.byte(',') {
				continue
			}
			break
		}
	}
	if !p.byte(']') {
		return nil, false, false
	}
	p.ws()
	if !p.byte('}') {
		return nil, false, false
	}
	return events, true, p.end()
}

// jsonReader reads the plain form of JSON that parsePublish accepts.
type jsonReader struct {
	b []byte
	i int
}

func (p *jsonReader) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonReader) peek(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

func (p *jsonReader) byte(c byte) bool {
	if p.peek(c) {
		p.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (p *jsonReader) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// event reads the members of an event object after its first key (the
// opening brace and the first key are read), up to its closing brace.
func (p *jsonReader) event(e *edge.Event, key string) bool {
	var seen [4]bool
	for {
		p.ws()
		if !p.byte(':') {
			return false
		}
		p.ws()
		v, ok := p.str()
		if !ok {
			return false
		}
		var k int
		switch key {
		case "topic":
			k, e.Topic = 0, v
		case "event":
			k, e.Event = 1, v
		case "data":
			k, e.Data = 2, v
		case "msg_id":
			k, e.MsgID = 3, v
		default:
			return false
		}
		if seen[k] {
			return false // protojson refuses duplicates
		}
		seen[k] = true
		p.ws()
		if p.byte('}') {
			return true
		}
		if !p.byte(',') {
			return false
		}
		p.ws()
		if key, ok = p.str(); !ok {
			return false
		}
	}
}

// str reads a JSON string of valid UTF-8.
func (p *jsonReader) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			p.i += n
		}
	}
	return "", false
}

// escaped reads the rest of a string that has escapes, from start (after
// the opening quote); p.i is at the first backslash.
func (p *jsonReader) escaped(start int) (string, bool) {
	out := make([]byte, 0, p.i-start+16)
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), true
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", false
			}
			esc := p.b[p.i+1]
			p.i += 2
			switch esc {
			case '"', '\\', '/':
				out = append(out, esc)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					// Only a high surrogate followed by a low one: a lone
					// one is left to protojson.
					if r >= 0xdc00 || p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
						return "", false
					}
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", false
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						return "", false
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			out = append(out, p.b[p.i:p.i+n]...)
			p.i += n
		}
	}
	return "", false
}

func (p *jsonReader) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// appendPublishResponse appends the answer to a stored event:
// jetsse.v1.PublishResponse's JSON and a newline.
func appendPublishResponse(dst []byte, id string) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, id...) // digits
	return append(dst, "\"}\n"...)
}

// appendBatchResponse appends the answer to a batch stored whole:
// jetsse.v1.PublishBatchResponse's JSON and a newline.
func appendBatchResponse(dst []byte, ids []string) []byte {
	dst = append(dst, `{"ids":[`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, id...) // digits
		dst = append(dst, '"')
	}
	return append(dst, "]}\n"...)
}
