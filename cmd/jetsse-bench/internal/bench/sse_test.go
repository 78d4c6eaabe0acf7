package bench

import (
	"bytes"
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

// chunked encodes body as chunks of the given sizes.
func chunked(body string, sizes ...int) string {
	var b strings.Builder
	for len(body) > 0 {
		n := len(body)
		if len(sizes) > 0 {
			n = min(sizes[0], n)
			sizes = sizes[1:]
		}
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

func TestChunkDecoder(t *testing.T) {
	body := "id: 1\ndata: one\n\nid: 2\ndata: two\n\n"
	for _, sizes := range [][]int{nil, {1}, {5, 3, 100}, {17, 1, 1, 1, 100}} {
		wire := chunked(body, sizes...)
		for feed := 1; feed <= len(wire); feed++ {
			var d chunkDecoder
			p := NewParser(nil)
			got := collect(p)
			done := false
			for i := 0; i < len(wire); i += feed {
				var err error
				done, err = d.feed([]byte(wire[i:min(i+feed, len(wire))]), p)
				if err != nil {
					t.Fatalf("sizes %v feed %d: %v", sizes, feed, err)
				}
			}
			if !done {
				t.Fatalf("sizes %v feed %d: not done", sizes, feed)
			}
			want := []gotEvent{{"1", true, "", "one"}, {"2", true, "", "two"}}
			if fmt.Sprint(*got) != fmt.Sprint(want) {
				t.Fatalf("sizes %v feed %d: got %+v", sizes, feed, *got)
			}
		}
	}
}

func TestChunkDecoderExtensionsAndTrailers(t *testing.T) {
	wire := "5;ext=1\r\ndata:\r\n2\r\n x\r\n2\r\n\n\n\r\n0\r\nTrailer: v\r\n\r\n"
	var d chunkDecoder
	p := NewParser(nil)
	got := collect(p)
	done, err := d.feed([]byte(wire), p)
	if err != nil || !done {
		t.Fatalf("done=%v err=%v", done, err)
	}
	if want := []gotEvent{{data: "x"}}; fmt.Sprint(*got) != fmt.Sprint(want) {
		t.Fatalf("got %+v", *got)
	}
}

func TestChunkDecoderErrors(t *testing.T) {
	for _, wire := range []string{"zz\r\n", "\r\n", "2\r\nabXY", "1234567890abcdef0\r\n"} {
		var d chunkDecoder
		if _, err := d.feed([]byte(wire), NewParser(nil)); !errors.Is(err, errBadChunk) {
			t.Errorf("%q: err = %v, want errBadChunk", wire, err)
		}
	}
}

func TestParseHead(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" +
		"Set-Cookie: jetsse_session=fromcookie; Path=/; HttpOnly\r\n" +
		"jetsse-session: fromheader\r\nTransfer-Encoding: chunked\r\n"
	h, err := parseHead([]byte(head))
	if err != nil {
		t.Fatal(err)
	}
	if h.status != 200 || !h.chunked || h.length != -1 || h.token != "fromheader" {
		t.Fatalf("head = %+v", h)
	}
	h, err = parseHead([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 25\r\nSet-Cookie: jetsse_session=c; Path=/\r\n"))
	if err != nil || h.status != 400 || h.length != 25 || h.token != "c" {
		t.Fatalf("head = %+v, %v", h, err)
	}
	if _, err := parseHead([]byte("garbage\r\n")); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestPayload(t *testing.T) {
	for _, size := range []int{0, 10, 100, 1000} {
		b := AppendPayload(nil, 1700000000123456789, 77, size)
		if len(b) < size {
			t.Errorf("size %d: payload %d bytes", size, len(b))
		}
		if ts, ok := PayloadTime(b); !ok || ts != 1700000000123456789 {
			t.Errorf("size %d: time %d %v in %s", size, ts, ok, b)
		}
		if n, ok := PayloadCounter(b); !ok || n != 77 {
			t.Errorf("size %d: counter %d %v", size, n, ok)
		}
	}
	if ts, ok := PayloadTime([]byte("123")); !ok || ts != 123 {
		t.Errorf("plain decimal: %d %v", ts, ok)
	}
	// Inside a peer's envelope.
	if ts, ok := PayloadTime([]byte(`{"pub":{"data":{"t": 5,"n":6}}}`)); !ok || ts != 5 {
		t.Errorf("envelope: %d %v", ts, ok)
	}
	if _, ok := PayloadTime([]byte(`{"x":1}`)); ok {
		t.Error("no t member parsed")
	}
	if _, ok := parseDecimal([]byte("18446744073709551616")); ok {
		t.Error("overflow parsed")
	}
}

func TestHistogram(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(i, time.Duration(i)*time.Millisecond)
	}
	s := h.Summary()
	check := func(name string, got, want float64) {
		if got < want*0.98 || got > want*1.02 {
			t.Errorf("%s = %g, want ≈ %g", name, got, want)
		}
	}
	check("p50", s.P50Ms, 500)
	check("p90", s.P90Ms, 900)
	check("p99", s.P99Ms, 990)
	check("mean", s.MeanMs, 500.5)
	if s.MaxMs != 1000 || s.MinMs != 1 || s.Count != 1000 {
		t.Errorf("summary %+v", s)
	}
	for v := uint64(0); v < 1<<20; v = v*9/8 + 1 {
		b := bucketOf(v)
		if lo, hi := bucketLow(b), bucketLow(b+1); v < lo || v >= hi {
			t.Fatalf("value %d in bucket %d [%d, %d)", v, b, lo, hi)
		}
	}
}

func TestCountAbove(t *testing.T) {
	s := []uint64{3, 5, 7, 9}
	for _, c := range []struct {
		v    uint64
		want int
	}{{0, 4}, {3, 3}, {4, 3}, {9, 0}, {10, 0}} {
		if got := countAbove(s, c.v); got != c.want {
			t.Errorf("countAbove(%d) = %d, want %d", c.v, got, c.want)
		}
	}
}

func TestChart(t *testing.T) {
	u := func(v float64) *float64 { return &v }
	var pts []ChartPoint
	for i, n := range []int{100, 1000, 10000} {
		p := ChartPoint{Scenario: "fanout", Label: "jetsse", CPUUsPerDelivery: u(float64(i + 1)), Latency: &Latency{Count: 1, P99Ms: 3}}
		p.Params.N = n
		pts = append(pts, p)
		q := ChartPoint{Scenario: "idle", Label: "peer<&>", KiBPerSession: u(40)}
		q.Params.N = n
		pts = append(pts, q)
	}
	var b bytes.Buffer
	if err := WriteChart(&b, pts, ChartOptions{Goals: true}); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	for _, want := range []string{"<svg", "jetsse max", "peer&lt;&amp;&gt;", "goal 3 µs", "10k", "</svg>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Error("chart has NaN or Inf coordinates")
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
