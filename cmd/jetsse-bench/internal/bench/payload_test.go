package bench

import (
	"fmt"
	"strings"
	"testing"
)

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

func TestForEachPayload(t *testing.T) {
	frame := `{"connect":{"subs":{"bench:x":{"ttl":5,"epoch":"e","publications":[{"data":{"t":11,"n":3},"offset":3},{"data":{"t":12,"n":4,"p":"xx"},"offset":4}],"recovered":true,"offset":2}}}}`
	for _, tt := range []struct{ data, want string }{
		{`{"t":1,"n":2}`, "1/2 "},
		{`{"channel":"bench:x","pub":{"data":{"t":5,"n":6},"offset":6}}`, "5/6 "},
		{frame, "11/3 12/4 "},
		{`{"connect":{}}`, ""},
		{`{"t":1}`, ""},
	} {
		var b strings.Builder
		forEachPayload([]byte(tt.data), func(ts int64, n uint64) { fmt.Fprintf(&b, "%d/%d ", ts, n) })
		if b.String() != tt.want {
			t.Errorf("%s: %q, want %q", tt.data, b.String(), tt.want)
		}
	}
	for _, tt := range []struct{ key, want string }{
		{"offset", "2"}, {"epoch", "e"}, {"recovered", "true"}, {"ttl", "5"}, {"missing", ""},
	} {
		v, ok := lastJSONValue([]byte(frame), tt.key)
		if string(v) != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: %q %v, want %q", tt.key, v, ok, tt.want)
		}
	}
}
