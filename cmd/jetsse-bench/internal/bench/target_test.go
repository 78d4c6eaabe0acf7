package bench

import (
	"strings"
	"testing"
)

func TestTarget(t *testing.T) {
	const connect = `/connection/uni_sse?cf_connect=%7B%22subs%22%3A%7B%22bench%3A{topic}%22%3A%7B%22recover%22%3Atrue%2C%22offset%22%3A%7Bdata%3Aoffset%7D%2C%22epoch%22%3A%22{data:epoch}%22%7D%7D%7D`
	tests := []struct {
		name, raw string
		position  bool
		lastID    string
		data      [][]byte
		want      string
		ok        bool
	}{
		{name: "topic", raw: "/events?topic={topic}", want: "/events?topic=a.b%2A", ok: true},
		{name: "percent-encoded topic", raw: "/x/%7Btopic%7D/y", want: "/x/a.b%2A/y", ok: true},
		{name: "position placeholders only in a resume URL", raw: "/e?t={topic}&id={last_id}", lastID: "7", want: "/e?t=a.b%2A&id={last_id}", ok: true},
		{name: "last id", raw: "/e?t={topic}&id={last_id}", position: true, lastID: "urn:uuid:1", want: "/e?t=a.b%2A&id=urn%3Auuid%3A1", ok: true},
		{name: "last id unknown", raw: "/e?id={last_id}", position: true, ok: false},
		{name: "not a placeholder", raw: "/e?q={other}&t={topic}", want: "/e?q={other}&t=a.b%2A", ok: true},
		{
			name: "data keys", raw: connect, position: true, data: [][]byte{[]byte("12"), []byte("xY")}, ok: true,
			want: `/connection/uni_sse?cf_connect=%7B%22subs%22%3A%7B%22bench%3Aa.b%2A%22%3A%7B%22recover%22%3Atrue%2C%22offset%22%3A12%2C%22epoch%22%3A%22xY%22%7D%7D%7D`,
		},
		{name: "data key not seen yet", raw: connect, position: true, data: [][]byte{nil, []byte("xY")}, ok: false},
	}
	for _, tt := range tests {
		tg, err := parseTarget(tt.raw, tt.position)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, ok := tg.expand(nil, "a.b*", []byte(tt.lastID), tt.data)
		if ok != tt.ok || (ok && string(got) != tt.want) {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	tg, _ := parseTarget(connect, true)
	if strings.Join(tg.keys, ",") != "offset,epoch" {
		t.Errorf("keys %v", tg.keys)
	}
}
