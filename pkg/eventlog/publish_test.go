package eventlog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
)

// readAll returns every event the stream holds on subject filter.
func readAll(t *testing.T, l *eventlog.Log, filter string) []eventlog.Msg {
	t.Helper()
	var all []eventlog.Msg
	after := uint64(0)
	for {
		msgs, more, err := l.ReadBatch(context.Background(), after, filter, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, msgs...)
		if len(msgs) > 0 {
			after = msgs[len(msgs)-1].Seq
		}
		if !more {
			return all
		}
	}
}

// A batch is stored in order, each event under its own ID, with its type;
// a repeated message ID is stored once and answered with the original's ID.
func TestPublishBatch(t *testing.T) {
	l := open(t, eventlog.Config{})
	ctx := context.Background()
	first := publishN(t, l, "before", 1)[0]
	events := []eventlog.Event{
		{Topic: "a", Data: []byte("1")},
		{Topic: "b", Type: "t", Data: []byte("2"), MsgID: "m-1"},
		{Topic: "a", Data: []byte("3")},
		{Topic: "b", Type: "t", Data: []byte("2 again"), MsgID: "m-1"},
		{Topic: "a", Data: []byte("5")},
	}
	got, err := l.PublishBatch(ctx, events)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{first + 1, first + 2, first + 3, first + 2, first + 4}
	for i, p := range got {
		if p.Err != nil || p.Seq != want[i] {
			t.Fatalf("event %d: %+v, want seq %d (all: %+v)", i, p, want[i], got)
		}
	}
	msgs := readAll(t, l, "events.*")
	var desc []string
	for _, m := range msgs[1:] {
		desc = append(desc, fmt.Sprintf("%d %s %s %s", m.Seq, m.Subject, m.Type, m.Data))
	}
	wantDesc := []string{
		fmt.Sprintf("%d events.a  1", first+1), fmt.Sprintf("%d events.b t 2", first+2),
		fmt.Sprintf("%d events.a  3", first+3), fmt.Sprintf("%d events.a  5", first+4),
	}
	if strings.Join(desc, "|") != strings.Join(wantDesc, "|") {
		t.Fatalf("stream holds\n%s\nwant\n%s", strings.Join(desc, "\n"), strings.Join(wantDesc, "\n"))
	}
}

// An event the stream refuses leaves the others of its batch stored, and
// the outcome says exactly which were.
func TestPublishBatchPartialFailure(t *testing.T) {
	l := open(t, eventlog.Config{})
	ctx := context.Background()
	if _, err := l.State(ctx); err != nil { // the log reads the limits
		t.Fatal(err)
	}
	// An operator lowers the largest message behind the log's back: the
	// stream, not the log's check, refuses the big event.
	js := jetStream(t, l)
	s, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgSize = 200
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 300)
	got, err := l.PublishBatch(ctx, []eventlog.Event{
		{Topic: "a", Data: []byte("1")}, {Topic: "a", Data: big}, {Topic: "a", Data: []byte("3")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Err != nil || got[2].Err != nil || got[2].Seq != got[0].Seq+1 || !errors.Is(got[1].Err, eventlog.ErrTooLarge) || got[1].Seq != 0 {
		t.Fatalf("outcomes %+v, want 1 and 3 stored one after the other, 2 too large", got)
	}
	msgs := readAll(t, l, "events.a")
	if len(msgs) != 2 || msgs[0].Seq != got[0].Seq || msgs[1].Seq != got[2].Seq {
		t.Fatalf("stream holds %+v", msgs)
	}
}

// An event that can never fit refuses the whole batch before any of it is
// published.
func TestPublishBatchRefusedWhole(t *testing.T) {
	l := open(t, eventlog.Config{MaxBytes: 4096})
	ctx := context.Background()
	if _, err := l.State(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := l.PublishBatch(ctx, []eventlog.Event{
		{Topic: "a", Data: []byte("1")}, {Topic: "a", Data: bytes.Repeat([]byte("x"), 5000)},
	})
	var ee *eventlog.EventError
	if !errors.As(err, &ee) || ee.Index != 1 || !errors.Is(err, eventlog.ErrTooLarge) {
		t.Fatalf("err %v, want event 1 too large", err)
	}
	if msgs := readAll(t, l, ""); len(msgs) != 0 {
		t.Fatalf("stream holds %d events", len(msgs))
	}
}

// With no stream to take them, publishes fail as unavailable after the
// retries, and nothing waits for ever.
func TestPublishWithoutStream(t *testing.T) {
	l := open(t, eventlog.Config{})
	ctx := context.Background()
	if err := jetStream(t, l).DeleteStream(ctx, "EVENTS"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := l.Publish(ctx, "a", "", []byte("x"), "")
	if !errors.Is(err, eventlog.ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %s", took)
	}
}

// Publishes given up on (their context ended) never report an ID they
// did not get, and every ID they do report holds their event, while many
// run at once.
func TestPublishAbandoned(t *testing.T) {
	l := open(t, eventlog.Config{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[uint64]string{}
	abandoned := 0
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				// From already over to surely long enough.
				timeout := []time.Duration{0, 50 * time.Microsecond, 100 * time.Microsecond, 200 * time.Microsecond, 10 * time.Second}[i%5]
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				events := make([]eventlog.Event, 1+i%4)
				for k := range events {
					events[k] = eventlog.Event{Topic: "a", Data: fmt.Appendf(nil, "%d/%d/%d", w, i, k)}
				}
				got, err := l.PublishBatch(ctx, events)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for k, p := range got {
					switch {
					case p.Err == nil && p.Seq == 0, p.Err != nil && p.Seq != 0:
						t.Errorf("outcome %+v", p)
					case p.Err == nil:
						stored[p.Seq] = string(events[k].Data)
					case !errors.Is(p.Err, eventlog.ErrUnavailable):
						t.Errorf("error %v, want ErrUnavailable", p.Err)
					default:
						abandoned++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if abandoned == 0 || len(stored) == 0 {
		t.Fatalf("%d abandoned, %d stored: the test needs both", abandoned, len(stored))
	}
	for _, m := range readAll(t, l, "") {
		if want, ok := stored[m.Seq]; ok && want != string(m.Data) {
			t.Fatalf("event %d holds %q, its publisher was told %q", m.Seq, m.Data, want)
		}
		delete(stored, m.Seq)
	}
	if len(stored) > 0 {
		t.Fatalf("%d acknowledged events are not in the stream", len(stored))
	}
}
