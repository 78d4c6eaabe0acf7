package httptransport

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/services/edge"
)

// protojsonPublish is what protojson makes of a body, the reference the
// fast reader is held to: the events, whether it was the batch form, and
// whether protojson accepted it.
func protojsonPublish(b []byte, batch bool) ([]edge.Event, bool) {
	if batch {
		var m jetssev1.PublishBatchRequest
		if wireUnmarshal.Unmarshal(b, &m) != nil {
			return nil, false
		}
		events := []edge.Event{}
		for _, e := range m.GetEvents() {
			events = append(events, edge.Event{Topic: e.GetTopic(), Event: e.GetEvent(), Data: e.GetData(), MsgID: e.GetMsgId()})
		}
		return events, true
	}
	var m jetssev1.PublishRequest
	if wireUnmarshal.Unmarshal(b, &m) != nil {
		return nil, false
	}
	return []edge.Event{{Topic: m.GetTopic(), Event: m.GetEvent(), Data: m.GetData(), MsgID: m.GetMsgId()}}, true
}

var publishBodies = []string{
	`{"topic":"orders.42","event":"order.paid","data":"{\"total\":12}","msg_id":"m-1"}`,
	` { "topic" : "a" , "data" : "x" } ` + "\n",
	`{"data":"x","topic":"a"}`,
	`{}`,
	`{"topic":"a","data":"line\nbreak\ttab \u00e9 \ud83d\ude00 \/ \\ \" \b\f\r"}`,
	`{"topic":"a","data":"é😀 plain UTF-8"}`,
	`{"events":[{"topic":"a","data":"1"},{"topic":"b","event":"t","data":"2","msg_id":"m"}]}`,
	`{"events":[]}`,
	`{"events":[{}]}`,
	"{\"events\" :\n[ {\"topic\":\"a\"} ,{\"topic\":\"b\"}\t]}",
	// Not the plain form, or not valid: protojson decides.
	`{"topic":"a","msgId":"camel"}`,
	`{"topic":"a","data":null}`,
	`{"topic":"a","topic":"b"}`,
	`{"topic":"a","data":{"nested":1}}`,
	`{"topic":"a","data":"x"} trailing`,
	`{"topic":"a","typo":"x"}`,
	`{"topic":"a","data":"\ud800"}`,
	`{"topic":"a","data":"\x"}`,
	"{\"topic\":\"a\",\"data\":\"\xff\"}",
	"{\"topic\":\"a\",\"data\":\"tab\there\"}",
	`{"topic":"a","events":[]}`,
	`{"events":[{"topic":"a"}],"topic":"b"}`,
	`{"events":[{"topic":"a"},]}`,
	`{"events":{}}`,
	`{"events":null}`,
	`not json`,
	`[]`,
	``,
}

// TestParsePublish: the fast reader takes the plain forms, gives what
// protojson gives, and leaves the rest to protojson.
func TestParsePublish(t *testing.T) {
	plain := 0
	for _, body := range publishBodies {
		events, batch, ok := parsePublish([]byte(body))
		if !ok {
			continue
		}
		plain++
		want, pok := protojsonPublish([]byte(body), batch)
		if !pok || !slices.Equal(events, want) {
			t.Errorf("%s: fast %+v (batch %v), protojson %+v (ok %v)", body, events, batch, want, pok)
		}
	}
	if plain != 10 {
		t.Errorf("the fast reader took %d of the 10 plain bodies", plain)
	}
	// Through decodePublishBody, every body ends as protojson says.
	for _, body := range publishBodies {
		events, batch, err := decodePublishBody([]byte(body))
		single, sok := protojsonPublish([]byte(body), false)
		many, bok := protojsonPublish([]byte(body), true)
		switch {
		case err != nil && (sok && !strings.Contains(body, "events") || bok && strings.Contains(body, `"events"`)):
			t.Errorf("%s: refused (%v), protojson took it", body, err)
		case err == nil && !batch && (!sok || !slices.Equal(events, single)):
			t.Errorf("%s: %+v, protojson %+v (ok %v)", body, events, single, sok)
		case err == nil && batch && (!bok || !slices.Equal(events, many)):
			t.Errorf("%s: batch %+v, protojson %+v (ok %v)", body, events, many, bok)
		}
	}
	if _, _, err := decodePublishBody([]byte(`{"events":[{"topic":1}]}`)); !errors.Is(err, errBatchBody) {
		t.Errorf("a bad batch: %v, want the batch form's error", err)
	}
	if _, _, err := decodePublishBody([]byte(`{"topic":1}`)); !errors.Is(err, errPublishBody) {
		t.Errorf("a bad event: %v, want the single form's error", err)
	}
}

// FuzzParsePublish: whatever the fast reader accepts, protojson accepts
// with the same events; what a JSON encoder writes, the fast reader takes.
func FuzzParsePublish(f *testing.F) {
	for _, b := range publishBodies {
		f.Add([]byte(b), "", "")
	}
	f.Add([]byte(nil), "a\u2028b", "\x00\x1f\"\\")
	f.Fuzz(func(t *testing.T, body []byte, s1, s2 string) {
		if events, batch, ok := parsePublish(body); ok {
			want, pok := protojsonPublish(body, batch)
			if !pok || !slices.Equal(events, want) {
				t.Fatalf("%q: fast %+v (batch %v), protojson %+v (ok %v)", body, events, batch, want, pok)
			}
		}
		if !utf8.ValidString(s1) || !utf8.ValidString(s2) {
			return // encoding/json would change them
		}
		e := edge.Event{Topic: s1, Event: s2, Data: s1 + s2, MsgID: s2}
		b, _ := json.Marshal(map[string]any{"events": []map[string]string{{"topic": e.Topic, "event": e.Event, "data": e.Data, "msg_id": e.MsgID}}})
		events, batch, ok := parsePublish(b)
		if !ok || !batch || len(events) != 1 || events[0] != e {
			t.Fatalf("%s: %+v batch %v ok %v", b, events, batch, ok)
		}
	})
}

// TestPublishAnswers: the fast writers write protojson's bytes.
func TestPublishAnswers(t *testing.T) {
	if got, want := string(appendPublishResponse(nil, "42")), string(appendWire(nil, &jetssev1.PublishResponse{Id: "42"}))+"\n"; got != want {
		t.Errorf("single: %q, want %q", got, want)
	}
	for _, ids := range [][]string{{"1"}, {"7", "8", "9"}, {}} {
		got := string(appendBatchResponse(nil, ids))
		want := string(appendWire(nil, &jetssev1.PublishBatchResponse{Ids: ids})) + "\n"
		if got != want {
			t.Errorf("batch %v: %q, want %q", ids, got, want)
		}
	}
}

func BenchmarkDecodePublish(b *testing.B) {
	data := strings.Repeat("x", 100)
	single := fmt.Appendf(nil, `{"topic":"bench.publish.abc","data":%q}`, data)
	var batch []byte
	batch = append(batch, `{"events":[`...)
	for i := range 100 {
		if i > 0 {
			batch = append(batch, ',')
		}
		batch = append(batch, single...)
	}
	batch = append(batch, "]}"...)
	for _, c := range []struct {
		name string
		body []byte
	}{{"single", single}, {"batch100", batch}} {
		b.Run("fast/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := parsePublish(c.body); !ok {
					b.Fatal("not taken")
				}
			}
		})
		b.Run("protojson/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := protojsonPublish(c.body, c.name != "single"); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}
