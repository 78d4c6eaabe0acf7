package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/internal/testenv"
	"github.com/jetsse/jetsse/pkg/eventlog"
)

func open(t *testing.T, cfg eventlog.Config) *eventlog.Log {
	t.Helper()
	_, nc := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := eventlog.Open(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	testNC[l] = nc
	return l
}

// testNC is each test log's connection (tests run one at a time here).
var testNC = map[*eventlog.Log]*nats.Conn{}

func TestSessionRecords(t *testing.T) {
	l := open(t, eventlog.Config{SessionTTL: time.Minute})
	ctx := context.Background()
	id := "0123456789abcdef0123456789abcdef"
	if _, _, err := l.GetSession(ctx, id); !errors.Is(err, eventlog.ErrSessionNotFound) {
		t.Fatalf("missing session: %v", err)
	}
	created := time.UnixMilli(time.Now().UnixMilli())
	rec := eventlog.Record{Claim: "n1/1", Position: 7, Created: created, Topics: []string{"a.*", "b c"}}
	rev1, err := l.Claim(ctx, id, rec)
	if err != nil {
		t.Fatal(err)
	}
	got, rev, err := l.GetSession(ctx, id)
	if err != nil || rev != rev1 || got.Claim != "n1/1" || got.Position != 7 || !got.Created.Equal(created) ||
		len(got.Topics) != 2 || got.Topics[1] != "b c" {
		t.Fatalf("GetSession = %+v rev %d err %v", got, rev, err)
	}
	rec.Position = 9
	rev2, err := l.UpdateSession(ctx, id, rec, rev1)
	if err != nil {
		t.Fatal(err)
	}
	// A newer connection claims it; the old holder's update must fail.
	if _, err := l.Claim(ctx, id, eventlog.Record{Claim: "n2/1", Position: 9, Created: created}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.UpdateSession(ctx, id, rec, rev2); !errors.Is(err, eventlog.ErrLostClaim) {
		t.Fatalf("stale update: %v", err)
	}
	if got, _, _ := l.GetSession(ctx, id); got.Claim != "n2/1" {
		t.Fatalf("owner %q after the newer claim", got.Claim)
	}
}

func TestStoreDetached(t *testing.T) {
	l := open(t, eventlog.Config{SessionTTL: time.Minute})
	ctx := context.Background()
	publishN(t, l, "a", 10)
	id := "0000000000000000000000000000000d"
	rec := eventlog.Record{Position: 6, Created: time.Now(), Topics: []string{"a"}}
	for _, pos := range []uint64{6, 8, 3} { // create, move forward, move below the start
		rec.Position = pos
		if err := l.StoreConsumer(ctx, id, rec, false); err != nil {
			t.Fatalf("store at %d: %v", pos, err)
		}
		s, err := l.Consumer(ctx, id)
		if err != nil || s.Position != pos {
			t.Fatalf("consumer at %d (%v), want %d", s.Position, err, pos)
		}
	}
}

// Sessions stop getting consumers at --max-sessions, and the stream keeps
// room beyond it for the edge nodes' own consumers.
func TestSessionLimitLeavesRoomForEdgeNodes(t *testing.T) {
	l := open(t, eventlog.Config{SessionTTL: time.Minute, MaxSessions: 3})
	ctx := context.Background()
	publishN(t, l, "a", 10)
	rec := eventlog.Record{Position: 4, Created: time.Now(), Topics: []string{"a"}}
	ids := []string{
		"00000000000000000000000000000001", "00000000000000000000000000000002",
		"00000000000000000000000000000003", "00000000000000000000000000000004",
	}
	for i, id := range ids {
		err := l.StoreConsumer(ctx, id, rec, false)
		if want := i < 3; (err == nil) != want {
			t.Fatalf("session %d: %v", i+1, err)
		}
		if i == 3 && !errors.Is(err, eventlog.ErrTooManySessions) {
			t.Fatalf("session 4: %v, want ErrTooManySessions", err)
		}
	}
	// A session that has its consumer keeps it, and moves it.
	rec.Position = 7
	if err := l.StoreConsumer(ctx, ids[0], rec, false); err != nil {
		t.Fatalf("moving a stored session at the limit: %v", err)
	}
	if s, err := l.Consumer(ctx, ids[0]); err != nil || s.Position != 7 {
		t.Fatalf("session 1 at %d (%v), want 7", s.Position, err)
	}
	// An edge node starting now still gets its live consumer.
	js := jetStream(t, l)
	for i := range 3 {
		if _, err := js.CreateConsumer(ctx, "EVENTS", jetstream.ConsumerConfig{
			AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: time.Minute,
		}); err != nil {
			t.Fatalf("edge node %d's consumer: %v", i+1, err)
		}
	}
}

func publishN(t *testing.T, l *eventlog.Log, topic string, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := range n {
		seq, err := l.Publish(context.Background(), topic, "", []byte{byte('a' + i%26)}, "")
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// TestConsumerState: a detached session's consumer holds its topics and
// creation time as metadata, its position as the ack floor; a session
// without one says so.
func TestConsumerState(t *testing.T) {
	l := open(t, eventlog.Config{SessionTTL: time.Minute})
	ctx := context.Background()
	publishN(t, l, "a.1", 10)
	id := "00000000000000000000000000000001"
	created := time.UnixMilli(time.Now().UnixMilli())
	if err := l.StoreConsumer(ctx, id, eventlog.Record{Position: 3, Created: created, Topics: []string{"a.*", "b"}}, false); err != nil {
		t.Fatal(err)
	}
	s, err := l.Consumer(ctx, id)
	if err != nil || s.Position != 3 || len(s.Topics) != 2 || s.Topics[0] != "a.*" || !s.Created.Equal(created) {
		t.Fatalf("consumer = %+v (%v), want position 3, topics [a.* b], created %v", s, err, created)
	}
	// Reading it does not move it.
	if s, _ = l.Consumer(ctx, id); s.Position != 3 {
		t.Fatalf("second read: position %d", s.Position)
	}
	// Stored again with other topics, it is made again.
	if err := l.StoreConsumer(ctx, id, eventlog.Record{Position: 5, Created: created, Topics: []string{"a.*"}}, false); err != nil {
		t.Fatal(err)
	}
	if s, _ = l.Consumer(ctx, id); s.Position != 5 || len(s.Topics) != 1 {
		t.Fatalf("after new topics: %+v", s)
	}
	if err := l.DeleteConsumer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Consumer(ctx, id); !errors.Is(err, eventlog.ErrConsumerNotFound) {
		t.Fatalf("deleted consumer: %v", err)
	}
	if err := l.DeleteConsumer(ctx, id); !errors.Is(err, eventlog.ErrConsumerNotFound) {
		t.Fatalf("deleting a missing consumer: %v", err)
	}
}

// jetStream is a JetStream client of the log's server, for doing what an
// operator would.
func jetStream(t testing.TB, l *eventlog.Log) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(testNC[l])
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestInactiveThreshold: JetStream removes a detached session's consumer
// shortly after its TTL.
func TestInactiveThreshold(t *testing.T) {
	const ttl = time.Second
	l := open(t, eventlog.Config{SessionTTL: ttl})
	ctx := context.Background()
	publishN(t, l, "a", 5)
	id := "0000000000000000000000000000000b"
	start := time.Now()
	if err := l.StoreConsumer(ctx, id, eventlog.Record{Position: 2, Created: start, Topics: []string{"a"}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Consumer(ctx, id); err != nil {
		t.Fatalf("consumer missing right after creation: %v", err)
	}
	for {
		_, err := l.Consumer(ctx, id)
		if errors.Is(err, eventlog.ErrConsumerNotFound) {
			break
		}
		if time.Since(start) > 4*ttl {
			t.Fatalf("consumer still exists %v after creation (TTL %v)", time.Since(start), ttl)
		}
		time.Sleep(ttl / 10) // polling interval
	}
	t.Logf("detached session consumer removed %v after creation", time.Since(start))
}

func TestReadBatch(t *testing.T) {
	l := open(t, eventlog.Config{})
	ctx := context.Background()
	var want []uint64
	for i := range 30 {
		topic := "other"
		if i%3 == 0 {
			topic = "mine.x"
		}
		seq, err := l.Publish(ctx, topic, "t", []byte("d"), "")
		if err != nil {
			t.Fatal(err)
		}
		if topic == "mine.x" {
			want = append(want, seq)
		}
	}
	var got []uint64
	after := uint64(0)
	for {
		msgs, more, err := l.ReadBatch(ctx, after, "events.mine.>", 4, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Subject != "events.mine.x" || m.Type != "t" || string(m.Data) != "d" || m.Time.IsZero() {
				t.Fatalf("bad msg %+v", m)
			}
			got = append(got, m.Seq)
			after = m.Seq
		}
		if !more {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("read %v, want %v", got, want)
		}
	}
	msgs, more, err := l.ReadBatch(ctx, 30, "", 10, 0)
	if err != nil || len(msgs) != 0 || more {
		t.Fatalf("read past the end: %d msgs, more=%v, err=%v", len(msgs), more, err)
	}
}

func TestClaimsWatch(t *testing.T) {
	l := open(t, eventlog.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	seen := make(chan eventlog.ClaimEvent, 10)
	go func() { _ = l.WatchClaims(ctx, func() { close(ready) }, func(e eventlog.ClaimEvent) { seen <- e }) }()
	<-ready
	r1, _ := l.Claim(ctx, "s1", eventlog.Record{Claim: "a/1"})
	r2, _ := l.Claim(ctx, "s1", eventlog.Record{Claim: "b/1"})
	if r2 <= r1 {
		t.Fatalf("revisions %d then %d", r1, r2)
	}
	// A watch may skip a claim superseded before it was read (the bucket
	// keeps one revision per session), but it always ends at the newest,
	// and never goes backwards.
	var last uint64
	for {
		select {
		case got := <-seen:
			if got.Revision <= last {
				t.Fatalf("revision %d after %d", got.Revision, last)
			}
			last = got.Revision
			if got.SessionID == "s1" && got.Claim == "b/1" && got.Revision == r2 {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("newest claim (rev %d) not seen", r2)
		}
	}
}

var testenvNATS = testenv.NATS

// TestFirstStored: the first event the stream holds, read with a direct
// get, through deletions, purges and an empty stream.
func TestFirstStored(t *testing.T) {
	l := open(t, eventlog.Config{})
	ctx := context.Background()
	check := func(what string, want uint64) {
		t.Helper()
		got, err := l.FirstStored(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got.Seq != want || got.Time.IsZero() != (want == 0) {
			t.Fatalf("%s: first %+v, want %d", what, got, want)
		}
	}
	check("new stream", 0)
	for range 10 {
		if _, err := l.Publish(ctx, "t", "", []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	st, err := jetStream(t, l).Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := l.FirstStored(ctx); !f.Time.Equal(m.Time) {
		t.Fatalf("event 1 stored at %v, read %v", m.Time, f.Time)
	}
	check("all there", 1)
	if err := st.DeleteMsg(ctx, 1); err != nil {
		t.Fatal(err)
	}
	check("the first one deleted", 2)
	if err := st.Purge(ctx, jetstream.WithPurgeSequence(9)); err != nil {
		t.Fatal(err)
	}
	check("evicted below 9", 9)
	if err := st.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	check("purged", 0)
	// Concurrent callers share reads, and each gets one made after it asked.
	done := make(chan error, 50)
	for range 50 {
		go func() {
			f, err := l.FirstStored(ctx)
			if err == nil && f.Seq != 0 {
				err = fmt.Errorf("first %d after the purge", f.Seq)
			}
			done <- err
		}()
	}
	for range 50 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// An operator deleted the stream: nobody answers.
	if err := jetStream(t, l).DeleteStream(ctx, "EVENTS"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.FirstStored(ctx); !errors.Is(err, eventlog.ErrStreamNotFound) {
		t.Fatalf("after the stream's deletion: %v, want ErrStreamNotFound", err)
	}
}

// TestObserve: every JetStream request is reported with its operation and
// result, which jetsse_jetstream_requests_total counts.
func TestObserve(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	l := open(t, eventlog.Config{SessionTTL: time.Minute, Observe: func(op string, took time.Duration, result string) {
		if took < 0 {
			t.Errorf("%s took %v", op, took)
		}
		mu.Lock()
		seen[op+" "+result]++
		mu.Unlock()
	}})
	ctx := context.Background()
	id := "0123456789abcdef0123456789abcdef"
	if _, _, err := l.GetSession(ctx, id); !errors.Is(err, eventlog.ErrSessionNotFound) {
		t.Fatal(err)
	}
	rev, err := l.Claim(ctx, id, eventlog.Record{Claim: "n1/1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.UpdateSession(ctx, id, eventlog.Record{Claim: "n1/1", Position: 1}, rev+5); !errors.Is(err, eventlog.ErrLostClaim) {
		t.Fatal(err)
	}
	publishN(t, l, "t", 2)
	if _, err := l.State(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Consumer(ctx, id); !errors.Is(err, eventlog.ErrConsumerNotFound) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"stream_info ok", "record_get not_found", "record_put ok", "record_update conflict",
		"publish ok", "consumer_info not_found"} {
		if seen[want] == 0 {
			t.Errorf("no %q request reported; saw %v", want, seen)
		}
	}
	if seen["publish ok"] != 2 {
		t.Errorf("%d publishes reported, want 2", seen["publish ok"])
	}
}
