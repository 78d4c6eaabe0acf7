package sse_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/sse"
)

// The stream fixtures of web-platform-tests/wpt eventsource/format-*.
// Each one is first checked against the Decoder (so it can serve as the
// oracle below), then the encoder is held to the rule the fixture tests:
// nothing jetsse writes may trip it.

type wptEvent struct{ id, typ, data string }

var wptFixtures = []struct {
	name   string
	stream string
	want   []wptEvent
}{
	{"format-field-parsing", "data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n",
		[]wptEvent{{"", "", "\x00\n 2\n1\n3\n\n4"}}},
	{"format-comments", "data:1\r:\x00\n:\r\ndata:2\n:" + strings.Repeat("x", 2048) + "\rdata:3\n:data:fail\r:" + strings.Repeat("x", 2048) + "\ndata:4\n\n",
		[]wptEvent{{"", "", "1\n2\n3\n4"}}},
	{"format-field-data", "data:\n\ndata\ndata\n\ndata:test\n\n",
		[]wptEvent{{"", "", ""}, {"", "", "\n"}, {"", "", "test"}}},
	{"format-field-id-3 persists", "id: 1\ndata: 1\n\ndata:2\n\n",
		[]wptEvent{{"1", "", "1"}, {"1", "", "2"}}},
	{"format-field-id-3 changes and persists", "id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n",
		[]wptEvent{{"1", "", "1"}, {"2", "", "2"}, {"2", "", "3"}}},
	{"format-field-id-3 resets", "id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n",
		[]wptEvent{{"1", "", "1"}, {"", "", "2"}, {"", "", "3"}}},
	{"format-field-id-null", "id: 7\ndata: a\n\nid: \x00\x00\ndata: hello\n\nid: 8\x00\ndata: b\n\n",
		[]wptEvent{{"7", "", "a"}, {"7", "", "hello"}, {"7", "", "b"}}},
	{"format-bom", "\xef\xbb\xbfdata:1\n\n\xef\xbb\xbfdata:2\n\ndata:3\n\n",
		[]wptEvent{{"", "", "1"}, {"", "", "3"}}},
	{"format-bom-2", "\xef\xbb\xbf\xef\xbb\xbfdata:1\n\ndata:2\n\ndata:3\n\n",
		[]wptEvent{{"", "", "2"}, {"", "", "3"}}},
	{"format-data-before-final-empty-line", "retry:1000\ndata:test1\n\nid:test\ndata:test2",
		[]wptEvent{{"", "", "test1"}}},
	{"format-field-event", "event: test\ndata: x\n\ndata: x\n\n",
		[]wptEvent{{"", "test", "x"}, {"", "", "x"}}},
	{"format-field-event-empty", "event: \ndata:data\n\n",
		[]wptEvent{{"", "", "data"}}},
	{"format-null-character", "data:\x00\n\n",
		[]wptEvent{{"", "", "\x00"}}},
	{"format-utf-8", "data:ok\xe2\x80\xa6\n\n",
		[]wptEvent{{"", "", "ok…"}}},
	{"CR, LF and CRLF end lines", "id: 1\r\ndata: a\r\ndata: b\r\n\r\nid: 2\rdata: c\r\rid: 3\ndata: d\n\n",
		[]wptEvent{{"1", "", "a\nb"}, {"2", "", "c"}, {"3", "", "d"}}},
}

func TestWPTFixturesThroughDecoder(t *testing.T) {
	for _, fx := range wptFixtures {
		t.Run(fx.name, func(t *testing.T) {
			evs, _ := decodeAll(t, fx.stream)
			var got []wptEvent
			for _, e := range evs {
				got = append(got, wptEvent{e.ID, e.Type, string(e.Data)})
			}
			if len(got) != len(fx.want) {
				t.Fatalf("decoded %q, want %q", got, fx.want)
			}
			for i := range got {
				if got[i] != fx.want[i] {
					t.Fatalf("event %d = %q, want %q", i, got[i], fx.want[i])
				}
			}
		})
	}
}

func TestWPTRetryDigits(t *testing.T) {
	for stream, want := range map[string]time.Duration{
		"retry:02000\ndata:x\n\n":                           2000 * time.Millisecond, // format-field-retry: decimal, not octal
		"retry:2000\nretry:1000x\ndata:x\n\n":               2000 * time.Millisecond, // format-field-retry-bogus
		"retry:2000\nretry:\ndata:x\n\n":                    2000 * time.Millisecond, // format-field-retry-empty
		"retry:2000\nretry: -1\nretry:1.5\n\n":              2000 * time.Millisecond,
		"retry: 300\n\n":                                    300 * time.Millisecond,
		string(sse.AppendRetry(nil, 1500*time.Millisecond)): 1500 * time.Millisecond,
	} {
		if _, d := decodeAll(t, stream); d.Retry != want {
			t.Errorf("%q: retry %v, want %v", stream, d.Retry, want)
		}
	}
	// The encoder writes ASCII digits only, whatever the duration.
	for _, d := range []time.Duration{-time.Second, 0, time.Nanosecond, 1500 * time.Microsecond, 90 * time.Minute} {
		line := strings.TrimSuffix(string(sse.AppendRetry(nil, d)), "\n\n")
		v, ok := strings.CutPrefix(line, "retry: ")
		if !ok || v == "" || strings.Trim(v, "0123456789") != "" {
			t.Errorf("AppendRetry(%v) = %q: not \"retry: <digits>\"", d, line)
		}
	}
}

// wptHazards are payloads, types and ids built from the fixtures above:
// each would change what a client sees if the encoder passed it through.
var wptHazards = []sse.Event{
	{ID: "1", Data: []byte("data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4")},
	{ID: "2", Data: []byte(":comment\r:\x00\n:\r\n")},
	{ID: "3", Data: []byte("\n\nid: 99\nevent: evil\nretry: 1\ndata: x\n\n")},
	{ID: "4\x00", Data: []byte("an id with NUL would be ignored")},
	{ID: "5\r\n\r\nid: 9", Type: "x\r\n\r\ndata: evil", Data: []byte("x")},
	{ID: "6", Data: []byte("\xef\xbb\xbfbom")},
	{ID: "7", Data: []byte("")},
	{ID: "8", Type: "test", Data: []byte("typed")},
	{ID: "9", Data: []byte("no final newline in the payload")},
	{ID: "10", Data: []byte("\r")},
	{ID: "11", Data: []byte(" leading space\n  two")},
}

// TestEncoderKeepsTheWPTRules: a stream of hazardous events, framed as
// jetsse frames them (retry first, heartbeat comments between), decodes to
// exactly those events, each with its id, and a Last-Event-ID to resume from.
func TestEncoderKeepsTheWPTRules(t *testing.T) {
	stream := sse.AppendRetry(nil, 2*time.Second)
	for _, ev := range wptHazards {
		stream = sse.AppendEvent(stream, ev)
		stream = sse.AppendComment(stream, "heartbeat\r\nid: 666\ndata: evil")
	}
	if bytes.HasPrefix(stream, []byte("\xef\xbb\xbf")) {
		t.Fatal("the stream starts with a BOM, which a client drops") // format-bom
	}
	if bytes.IndexByte(stream, '\r') >= 0 {
		t.Fatal("the stream holds a CR: every line must end in LF alone") // format-field-parsing
	}
	if !bytes.HasSuffix(stream, []byte("\n")) {
		t.Fatal("the stream does not end with a line end")
	}
	for _, line := range strings.Split(string(stream), "\n") {
		if line == "id" || line == "id:" || line == "id: " {
			t.Fatalf("an empty id line resets the client's Last-Event-ID: %q", stream) // format-field-id-3
		}
	}
	evs, d := decodeAll(t, string(stream))
	if len(evs) != len(wptHazards) {
		t.Fatalf("decoded %d events, want %d", len(evs), len(wptHazards))
	}
	for i, ev := range wptHazards {
		got := evs[i]
		if got.ID != sse.CleanID(ev.ID) || got.ID == "" { // format-field-id-null: the id is never ignored
			t.Errorf("event %d: id %q, want %q", i, got.ID, sse.CleanID(ev.ID))
		}
		if got.Type != sse.CleanType(ev.Type) {
			t.Errorf("event %d: type %q, want %q", i, got.Type, sse.CleanType(ev.Type))
		}
		if want := normalizeBreaks(ev.Data); !bytes.Equal(got.Data, want) {
			t.Errorf("event %d: data %q, want %q", i, got.Data, want)
		}
	}
	if d.Retry != 2*time.Second || d.LastEventID() != "11" {
		t.Errorf("retry %v, last event ID %q: an event changed them", d.Retry, d.LastEventID())
	}
	if d.Comments != len(wptHazards) {
		t.Errorf("%d comments, want %d: a comment leaked into a field", d.Comments, len(wptHazards))
	}
}

// TestEveryEventEndsWithABlankLine: a client dispatches an event only at a
// blank line and drops an unterminated one at the end of the stream
// (format-data-before-final-empty-line), so each event written and flushed
// alone must be complete.
func TestEveryEventEndsWithABlankLine(t *testing.T) {
	for i, ev := range wptHazards {
		b := sse.AppendEvent(nil, ev)
		if !bytes.HasSuffix(b, []byte("\n\n")) || bytes.Count(b, []byte("\n\n")) != 1 {
			t.Errorf("event %d: %q is not one block ending in a blank line", i, b)
		}
		if evs, _ := decodeAll(t, string(b)); len(evs) != 1 {
			t.Errorf("event %d alone decodes to %d events", i, len(evs))
		}
	}
}
