package edge

import (
	"testing"

	"github.com/jetsse/jetsse/pkg/jetssev1"
)

// The JSON on the wire keeps DESIGN's field names, every field, and no
// whitespace, whatever protojson's deliberately unstable output does.
func TestWireJSON(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{string(appendWire(nil, sessionEvent(SessionInfo{ID: "ab", Resumed: false}))), `{"session":"ab","resumed":false,"last_event_id":""}`},
		{string(appendWire(nil, sessionEvent(SessionInfo{ID: "ab", Resumed: true, LastEventID: "7"}))), `{"session":"ab","resumed":true,"last_event_id":"7"}`},
		{string(appendWire(nil, gapEvent(Gap{LastEventID: "2", FirstAvailable: "6"}))), `{"last_event_id":"2","first_available":"6"}`},
		{string(appendWire(nil, &jetssev1.TakeoverEvent{Session: "ab"})), `{"session":"ab"}`},
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
