package bench

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

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
