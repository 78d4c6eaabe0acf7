package natstransport

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/fanout"
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
