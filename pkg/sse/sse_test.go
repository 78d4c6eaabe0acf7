package sse_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jetsse/jetsse/pkg/sse"
)

func decodeAll(t testing.TB, stream string) ([]sse.Event, *sse.Decoder) {
	t.Helper()
	d := sse.NewDecoder(strings.NewReader(stream))
	var out []sse.Event
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out, d
		}
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		out = append(out, ev)
	}
}

func TestAppendEventFraming(t *testing.T) {
	cases := []struct {
		name string
		ev   sse.Event
		want string
	}{
		{"plain", sse.Event{ID: "7", Type: "order", Data: []byte("hello")}, "id: 7\nevent: order\ndata: hello\n\n"},
		{"no type", sse.Event{ID: "8", Data: []byte("x")}, "id: 8\ndata: x\n\n"},
		{"no id", sse.Event{Type: "session", Data: []byte("{}")}, "event: session\ndata: {}\n\n"},
		{"empty data still dispatches", sse.Event{ID: "9"}, "id: 9\ndata: \n\n"},
		{"LF", sse.Event{Data: []byte("a\nb")}, "data: a\ndata: b\n\n"},
		{"CR", sse.Event{Data: []byte("a\rb")}, "data: a\ndata: b\n\n"},
		{"CRLF is one break", sse.Event{Data: []byte("a\r\nb")}, "data: a\ndata: b\n\n"},
		{"LFCR is two breaks", sse.Event{Data: []byte("a\n\rb")}, "data: a\ndata: \ndata: b\n\n"},
		{"trailing newline", sse.Event{Data: []byte("a\n")}, "data: a\ndata: \n\n"},
		{"leading space kept", sse.Event{Data: []byte(" a")}, "data:  a\n\n"},
		{"field injection in data", sse.Event{Data: []byte("x\n\nid: 99\nevent: evil\ndata: y")}, "data: x\ndata: \ndata: id: 99\ndata: event: evil\ndata: data: y\n\n"},
		{"injection in type", sse.Event{ID: "1", Type: "a\r\ndata: evil\n\nb", Data: []byte("x")}, "id: 1\nevent: adata: evilb\ndata: x\n\n"},
		{"injection and NUL in id", sse.Event{ID: "1\n\x00\rdata: 2", Data: []byte("x")}, "id: 1data: 2\ndata: x\n\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(sse.AppendEvent(nil, tc.ev))
			if got != tc.want {
				t.Fatalf("AppendEvent = %q, want %q", got, tc.want)
			}
			evs, _ := decodeAll(t, got)
			if len(evs) != 1 {
				t.Fatalf("decoded %d events from %q, want exactly 1", len(evs), got)
			}
		})
	}
}

func TestAppendEventWithSeqMatchesAppendEvent(t *testing.T) {
	for _, seq := range []uint64{0, 1, 42, 18446744073709551615} {
		a := sse.AppendEventWithSeq(nil, seq, "t\n", []byte("d\r\nx"))
		b := sse.AppendEvent(nil, sse.Event{ID: strings.TrimSpace(string(appendUint(seq))), Type: "t\n", Data: []byte("d\r\nx")})
		if !bytes.Equal(a, b) {
			t.Fatalf("seq %d: %q != %q", seq, a, b)
		}
	}
}

func appendUint(v uint64) []byte {
	if v == 0 {
		return []byte("0")
	}
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return b
}

func TestCommentAndRetry(t *testing.T) {
	if got := string(sse.AppendComment(nil, "hb\nx")); got != ": hb x\n" {
		t.Fatalf("comment = %q", got)
	}
	if got := string(sse.AppendComment(nil, "")); got != ":\n" {
		t.Fatalf("empty comment = %q", got)
	}
	if got := string(sse.AppendRetry(nil, 2500*time.Millisecond)); got != "retry: 2500\n\n" {
		t.Fatalf("retry = %q", got)
	}
	if got := string(sse.AppendRetry(nil, -time.Second)); got != "retry: 0\n\n" {
		t.Fatalf("negative retry = %q", got)
	}
	stream := string(sse.AppendRetry(nil, 1234*time.Millisecond)) + string(sse.AppendComment(nil, "x")) +
		string(sse.AppendEvent(nil, sse.Event{ID: "1", Data: []byte("a")}))
	evs, d := decodeAll(t, stream)
	if len(evs) != 1 || d.Retry != 1234*time.Millisecond || d.Comments != 1 {
		t.Fatalf("events=%d retry=%v comments=%d", len(evs), d.Retry, d.Comments)
	}
}

func TestParseLastEventID(t *testing.T) {
	good := map[string]uint64{"0": 0, "1": 1, "000123": 123, "18446744073709551615": 18446744073709551615}
	for in, want := range good {
		got, err := sse.ParseLastEventID(in)
		if err != nil || got != want {
			t.Errorf("ParseLastEventID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := []string{"", " 1", "1 ", "+1", "-1", "1.0", "0x10", "1e3", "abc", "18446744073709551616",
		"123456789012345678901", "1\x00", "١٢", "1\n"}
	for _, in := range bad {
		if _, err := sse.ParseLastEventID(in); !errors.Is(err, sse.ErrInvalidLastEventID) {
			t.Errorf("ParseLastEventID(%q) err = %v, want ErrInvalidLastEventID", in, err)
		}
	}
}

// FuzzEncodeRoundTrip: any payload, type and id, once encoded, decodes through
// a spec-compliant parser as exactly one event equal to the input as a client
// must see it (line breaks in data normalised to LF, CR/LF removed from the
// type, CR/LF/NUL removed from the id).
func FuzzEncodeRoundTrip(f *testing.F) {
	seeds := []struct{ id, typ, data string }{
		{"1", "", "hello"},
		{"42", "order", "multi\nline\r\ndata\rend"},
		{"", "", ""},
		{"1\x00", "t\r\nx", "\n\n\n"},
		{"7", "a:b", ": not a comment\nid: 3\nevent: x\nretry: 1\n"},
		{"\xef\xbb\xbf9", "\xef\xbb\xbf", "\xef\xbb\xbfdata"},
		{"5", "bidi\u202e", "nul\x00del\x7fc1\u0085"},
		{"6", " space", "  two spaces"},
		{"7", "\r", "\r"},
	}
	for _, s := range seeds {
		f.Add(s.id, s.typ, []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, id, typ string, data []byte) {
		enc := sse.AppendEvent(nil, sse.Event{ID: id, Type: typ, Data: data})
		// Prefix with a retry line, as jetsse does, so a BOM in the payload is
		// never at the start of the stream.
		stream := append(sse.AppendRetry(nil, time.Second), enc...)
		evs, d := decodeAll(t, string(stream))
		if len(evs) != 1 {
			t.Fatalf("decoded %d events from %q, want 1", len(evs), stream)
		}
		ev := evs[0]
		if want := sse.CleanID(id); ev.ID != want {
			t.Fatalf("id = %q, want %q", ev.ID, want)
		}
		if want := sse.CleanType(typ); ev.Type != want {
			t.Fatalf("type = %q, want %q", ev.Type, want)
		}
		if want := normalizeBreaks(data); !bytes.Equal(ev.Data, want) {
			t.Fatalf("data = %q, want %q", ev.Data, want)
		}
		if d.Retry != time.Second {
			t.Fatalf("retry = %v: the event changed the reconnection time", d.Retry)
		}
		if utf8.Valid(data) && !utf8.Valid(ev.Data) {
			t.Fatalf("valid UTF-8 payload decoded as invalid UTF-8")
		}
	})
}

func normalizeBreaks(b []byte) []byte {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return []byte(s)
}

func BenchmarkAppendEventWithSeq(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 100)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = sse.AppendEventWithSeq(buf[:0], uint64(i), "order", data)
	}
}

func BenchmarkAppendEventMultiline(b *testing.B) {
	data := bytes.Repeat([]byte("line of text\n"), 64)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = sse.AppendEventWithSeq(buf[:0], uint64(i), "", data)
	}
}

func BenchmarkDecoder(b *testing.B) {
	var stream []byte
	for i := range 1000 {
		stream = sse.AppendEventWithSeq(stream, uint64(i), "order", []byte(`{"id":1,"total":"9.99"}`))
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		d := sse.NewDecoder(bytes.NewReader(stream))
		for {
			if _, err := d.Next(); err != nil {
				break
			}
		}
	}
}

// TestLastEventIDOnlyFromDispatchedEvents: the last event ID a decoder
// would send on reconnect comes from dispatched events only, never from an
// event cut off by the end of the stream.
func TestLastEventIDOnlyFromDispatchedEvents(t *testing.T) {
	for stream, want := range map[string]string{
		"id: 7\ndata: x\n\nid: 8\ndata: y":  "7",
		"id: 7\ndata: x\n\nid: 8\n":         "7",
		"id: 7\ndata: x\n\nid: 8\n\n":       "8", // dispatched (no data, but the id is set)
		"data: x\n\n":                       "",
		"id: 1\ndata: x\n\nid\ndata: y\n\n": "",
	} {
		_, d := decodeAll(t, stream)
		if got := d.LastEventID(); got != want {
			t.Errorf("%q: LastEventID %q, want %q", stream, got, want)
		}
	}
}
