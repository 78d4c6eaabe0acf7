package natstransport

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/services/edge"
)

// TestEncode: a lifecycle message is the JSON docs/protocol.md shows, with
// proto field names, 64-bit integers as strings, and no position when none
// is known.
func TestEncode(t *testing.T) {
	at := time.Date(2026, 11, 29, 21, 0, 0, 5, time.FixedZone("x", 3600))
	b, err := Encode(edge.LifecycleEvent{Kind: edge.LifecycleGap, Session: "s1", Subject: "alice", Topics: []string{"a.*"},
		Node: "n1", Position: 2, HasPosition: true, Reconnects: 3, Time: at, Gap: &fanout.Gap{After: 2, First: 6}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	want := map[string]any{"kind": "gap", "session": "s1", "identity": "alice", "node": "n1", "position": "2",
		"reconnects": "3", "time": "2026-11-29T20:00:00.000000005Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v in %s", k, got[k], v, b)
		}
	}
	if gap, _ := got["gap"].(map[string]any); gap["last_event_id"] != "2" || gap["first_available"] != "6" {
		t.Errorf("gap %v in %s", got["gap"], b)
	}
	b, _ = Encode(edge.LifecycleEvent{Kind: edge.LifecycleCreated, Session: "s2", Time: at})
	got = nil
	_ = json.Unmarshal(b, &got)
	if p, ok := got["position"]; ok && p != "" {
		t.Errorf("created without a position: position %v in %s", p, b)
	}
	if p := (&Publisher{prefix: "ops.s"}).Subject("expired", "s2"); p != "ops.s.expired.s2" {
		t.Errorf("subject %q", p)
	}
}

// FuzzEncode: an event written directly is byte for byte what protojson
// writes; any event encodes to what protojson reads back.
func FuzzEncode(f *testing.F) {
	f.Add("gap", "0123456789abcdef0123456789abcdef", "alice", "orders.*", "users.>", "n1", uint64(2), uint64(3), true, true, uint64(2), uint64(6), int64(1764450000000000005))
	f.Add("created", "s", "", "", "", "", uint64(0), uint64(0), false, false, uint64(0), uint64(0), int64(0))
	f.Add("expired", "s", "ali\"ce", "t\u00e9", "a b", "n<1>&", uint64(1<<63), uint64(1<<64-1), true, false, uint64(0), uint64(0), int64(-1))
	f.Add("resumed", "s", "\x01\x7f", "\xff", "/", "n", uint64(9), uint64(1), true, false, uint64(0), uint64(0), int64(1))
	f.Fuzz(func(t *testing.T, kind, session, subject, t1, t2, node string, pos, reconnects uint64, hasPos, hasGap bool, after, first uint64, nanos int64) {
		ev := edge.LifecycleEvent{Kind: kind, Session: session, Subject: subject, Node: node,
			Position: pos, HasPosition: hasPos, Reconnects: reconnects, Time: time.Unix(0, nanos)}
		if t1 != "" {
			ev.Topics = append(ev.Topics, t1)
		}
		if t2 != "" {
			ev.Topics = append(ev.Topics, t2)
		}
		if hasGap {
			ev.Gap = &fanout.Gap{After: after, First: first}
		}
		want, perr := encodeProto(ev)
		got, err := Encode(ev)
		if plainEvent(ev) && (perr != nil || !bytes.Equal(got, want)) {
			t.Fatalf("written directly:\n%s\nprotojson (%v):\n%s", got, perr, want)
		}
		if perr != nil {
			return // not valid UTF-8: protojson refuses it, and so does Encode
		}
		if err != nil {
			t.Fatal(err)
		}
		var m jetssev1.SessionLifecycleEvent
		if err := protojson.Unmarshal(got, &m); err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		if m.Kind != kind || m.Session != session || m.Identity != subject || m.Node != node || m.Reconnects != reconnects || len(m.Topics) != len(ev.Topics) {
			t.Fatalf("read back %v from %s", &m, got)
		}
	})
}
