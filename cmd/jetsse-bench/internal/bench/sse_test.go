package bench

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type gotEvent struct {
	id    string
	hasID bool
	typ   string
	data  string
}

func collect(p *Parser) *[]gotEvent {
	var evs []gotEvent
	p.OnEvent = func(e *Event) {
		evs = append(evs, gotEvent{string(e.ID), e.HasID, string(e.Type), string(e.Data)})
	}
	return &evs
}

func TestParser(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []gotEvent
		comments uint64
		retry    int64
	}{
		{
			name: "jetsse first frames and an event",
			in: "retry: 2150\n" +
				"event: session\ndata: {\"session\":\"abc\",\"resumed\":false,\"last_event_id\":\"\"}\n\n" +
				": heartbeat\n\n" +
				"id: 42\ndata: {\"t\":1,\"n\":2}\n\n",
			want: []gotEvent{
				{typ: "session", data: `{"session":"abc","resumed":false,"last_event_id":""}`},
				{id: "42", hasID: true, data: `{"t":1,"n":2}`},
			},
			comments: 1,
			retry:    2150,
		},
		{
			name: "CRLF and CR line ends, multi-line data",
			in:   "id: 7\r\nevent: x\rdata: a\r\ndata: b\n\r\n",
			want: []gotEvent{{id: "7", hasID: true, typ: "x", data: "a\nb"}},
		},
		{
			name: "no space after colon, field without colon, empty data",
			in:   "data:x\ndata\n\nid:9\ndata:\n\n",
			want: []gotEvent{{data: "x\n"}, {id: "9", hasID: true, data: ""}},
		},
		{
			name: "events without data are not dispatched",
			in:   "event: nothing\nid: 3\n\ndata: y\n\n",
			want: []gotEvent{{data: "y"}},
		},
		{
			name: "id with NUL is ignored, unknown fields ignored",
			in:   "id: 1\x002\nfoo: bar\ndata: z\n\n",
			want: []gotEvent{{data: "z"}},
		},
		{
			name:  "bad retry ignored",
			in:    "retry: 12a\n",
			retry: -1,
		},
	}
	for _, tt := range tests {
		// Every split of the input into two Feed calls, and byte by byte.
		splits := []func(string) []string{
			func(s string) []string { return []string{s} },
			func(s string) []string { return strings.Split(s, "") },
		}
		for i := 1; i < len(tt.in); i++ {
			splits = append(splits, func(s string) []string { return []string{s[:i], s[i:]} })
		}
		for si, split := range splits {
			p := NewParser(nil)
			got := collect(p)
			for _, part := range split(tt.in) {
				if err := p.Feed([]byte(part)); err != nil {
					t.Fatalf("%s split %d: %v", tt.name, si, err)
				}
			}
			if fmt.Sprint(*got) != fmt.Sprint(tt.want) {
				t.Fatalf("%s split %d:\n got %+v\nwant %+v", tt.name, si, *got, tt.want)
			}
			if p.Comments != tt.comments {
				t.Fatalf("%s: comments %d, want %d", tt.name, p.Comments, tt.comments)
			}
			if tt.retry != 0 && p.Retry != tt.retry {
				t.Fatalf("%s: retry %d, want %d", tt.name, p.Retry, tt.retry)
			}
		}
	}
}

func TestParserLineLimit(t *testing.T) {
	p := NewParser(nil)
	p.MaxLine = 10
	if err := p.Feed([]byte("data: 0123456789")); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v, want ErrLineTooLong", err)
	}
}

func FuzzParser(f *testing.F) {
	f.Add([]byte("id: 1\ndata: x\n\n"), 3)
	f.Add([]byte("data: a\r\ndata: b\r\r\n: c\n"), 1)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		whole := NewParser(nil)
		want := collect(whole)
		if err := whole.Feed(in); err != nil {
			return
		}
		parts := NewParser(nil)
		got := collect(parts)
		if split < 0 {
			split = -split
		}
		split %= len(in) + 1
		_ = parts.Feed(in[:split])
		_ = parts.Feed(in[split:])
		if fmt.Sprint(*got) != fmt.Sprint(*want) {
			t.Fatalf("split at %d: %+v != %+v", split, *got, *want)
		}
	})
}

func BenchmarkParserEvent(b *testing.B) {
	frame := []byte("id: 123456\ndata: " + string(AppendPayload(nil, time.Now().UnixNano(), 99, 0)) + "\n\n")
	wire := []byte(chunked(strings.Repeat(string(frame), 8)))
	wire = wire[:len(wire)-5] // keep the stream open
	var n int
	p := NewParser(func(e *Event) {
		if v, ok := PayloadTime(e.Data); ok && v > 0 {
			n++
		}
	})
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		var d chunkDecoder
		if _, err := d.feed(wire, p); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("no events")
	}
}
