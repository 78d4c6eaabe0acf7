package httptransport

import (
	"testing"

	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/services/edge"
)

// The JSON on the wire keeps docs/protocol.md's field names, every field,
// and no whitespace, whatever protojson's deliberately unstable output does;
// the control events are framed with no id.
func TestWireJSON(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{string(appendStart(nil, edge.SessionInfo{ID: "ab"}, 0)), "retry: 0\n\nevent: session\ndata: {\"session\":\"ab\",\"resumed\":false,\"last_event_id\":\"\"}\n\n"},
		{string(appendStart(nil, edge.SessionInfo{ID: "ab", Resumed: true, LastEventID: "7", Gap: &fanout.Gap{After: 2, First: 6}}, 0)),
			"retry: 0\n\nevent: session\ndata: {\"session\":\"ab\",\"resumed\":true,\"last_event_id\":\"7\"}\n\n" +
				"event: gap\ndata: {\"last_event_id\":\"2\",\"first_available\":\"6\"}\n\n"},
		{string(appendEnd(nil, edge.ErrTakenOver, "ab", 0)), "event: takeover\ndata: {\"session\":\"ab\"}\n\n"},
		{string(appendEnd(nil, edge.ErrSlowClient, "ab", 0)), ""},
		{string(appendWire(nil, &jetssev1.PublishResponse{Id: "42"})), `{"id":"42"}`},
		{string(appendWire(nil, &jetssev1.Error{Error: `topic: "a b" has a space`})), `{"error":"topic: \"a b\" has a space"}`},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

func TestWirePublishRequest(t *testing.T) {
	var m jetssev1.PublishRequest
	if err := wireUnmarshal.Unmarshal([]byte(`{"topic":"a.b","event":"e","data":"x\ny","msg_id":"m-1"}`), &m); err != nil ||
		m.GetTopic() != "a.b" || m.GetEvent() != "e" || m.GetData() != "x\ny" || m.GetMsgId() != "m-1" {
		t.Fatalf("%v: %+v", err, &m)
	}
	for _, bad := range []string{
		`{"topic":"a","data":{"nested":1}}`,
		`{"topic":"a","data":"x"} trailing`,
		`{"topic":"a","typo":"x","data":"x"}`,
		`{"topic":"a","data":"x","data":"y"}`,
		`not json`,
		`[]`,
		``,
	} {
		if err := wireUnmarshal.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
