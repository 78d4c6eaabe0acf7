package eventlog_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
	t.Cleanup(l.Close)
	return l
}

func TestClaimAfterSessionOps(t *testing.T) {
	l := open(t, eventlog.Config{SessionTTL: time.Minute})
	ctx := context.Background()
	for i := range 3 {
		if _, err := l.Publish(ctx, "orders.1", "", []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	id := "0123456789abcdef0123456789abcdef"
	if err := l.CreateSession(ctx, id, []string{"orders.*"}, false, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := l.Touch(id); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Claim(ctx, id, "n/1"); err != nil {
		t.Fatalf("claim: %v", err)
	}
	msgs, more, err := l.ReadBatch(ctx, 0, "", 10, 0)
	if err != nil || len(msgs) != 3 || more {
		t.Fatalf("ReadBatch = %d msgs, more=%v, err=%v", len(msgs), more, err)
	}
	if _, err := l.Claim(ctx, id, "n/2"); err != nil {
		t.Fatalf("claim after read: %v", err)
	}
	_, err = l.ResumeSession(ctx, "ffffffffffffffffffffffffffffffff", 0, true)
	if !errors.Is(err, eventlog.ErrSessionNotFound) {
		t.Fatalf("resume missing: %v", err)
	}
	if _, err := l.Claim(ctx, id, "n/3"); err != nil {
		t.Fatalf("claim after missing resume: %v", err)
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

func TestCheckpointAndResumePosition(t *testing.T) {
	l := open(t, eventlog.Config{SessionTTL: time.Minute})
	ctx := context.Background()
	publishN(t, l, "a.1", 10)
	id := "00000000000000000000000000000001"
	if err := l.CreateSession(ctx, id, []string{"a.*", "b"}, false, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	s, err := l.ResumeSession(ctx, id, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.Position != 3 || len(s.Topics) != 2 || s.Topics[0] != "a.*" || s.Created.IsZero() {
		t.Fatalf("new session = %+v, want position 3, topics [a.* b]", s)
	}
	if err := l.Checkpoint(ctx, id, 8); err != nil {
		t.Fatal(err)
	}
	if s, _ = l.ResumeSession(ctx, id, 0, true); s.Position != 8 {
		t.Fatalf("after checkpoint 8: position %d", s.Position)
	}
	// Reading the position twice does not move it.
	if s, _ = l.ResumeSession(ctx, id, 0, true); s.Position != 8 {
		t.Fatalf("second read: position %d", s.Position)
	}
	// A client position wins, forward or back to the start.
	if s, _ = l.ResumeSession(ctx, id, 5, false); s.Position != 5 {
		t.Fatalf("resume at 5: position %d", s.Position)
	}
	if _, err := l.ResumeSession(ctx, id, 1, false); !errors.Is(err, eventlog.ErrBelowStart) {
		t.Fatalf("resume below start: %v", err)
	}
	if err := l.ReplaceSession(ctx, id, []string{"a.*"}, false, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if s, _ = l.ResumeSession(ctx, id, 0, true); s.Position != 1 || len(s.Topics) != 1 {
		t.Fatalf("after replace: %+v", s)
	}
	if err := l.Checkpoint(ctx, "ffffffffffffffffffffffffffffffff", 1); !errors.Is(err, eventlog.ErrSessionNotFound) {
		t.Fatalf("checkpoint of a missing session: %v", err)
	}
}

// TestInactiveThreshold: a touched session outlives its TTL; an untouched
// one is removed by JetStream shortly after it.
func TestInactiveThreshold(t *testing.T) {
	const ttl = time.Second
	l := open(t, eventlog.Config{SessionTTL: ttl})
	ctx := context.Background()
	publishN(t, l, "a", 5)
	kept, dropped := "0000000000000000000000000000000a", "0000000000000000000000000000000b"
	for _, id := range []string{kept, dropped} {
		if err := l.CreateSession(ctx, id, []string{"a"}, false, 2, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	var droppedAt time.Duration
	for time.Since(start) < 4*ttl {
		if err := l.Touch(kept); err != nil {
			t.Fatal(err)
		}
		if droppedAt == 0 {
			if _, err := l.ResumeSession(ctx, dropped, 0, true); errors.Is(err, eventlog.ErrSessionNotFound) {
				droppedAt = time.Since(start)
			}
		}
		time.Sleep(ttl / 5) // the touch cadence under test
	}
	if droppedAt == 0 {
		t.Fatalf("untouched session still exists %v after creation (TTL %v)", time.Since(start), ttl)
	}
	s, err := l.ResumeSession(ctx, kept, 0, true)
	if err != nil {
		t.Fatalf("touched session gone after %v: %v", time.Since(start), err)
	}
	if s.Position != 2 {
		t.Fatalf("touches moved the position to %d", s.Position)
	}
	t.Logf("untouched session removed %v after creation", droppedAt)
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
	go func() { _ = l.WatchClaims(ctx, ready, func(e eventlog.ClaimEvent) { seen <- e }) }()
	<-ready
	r1, _ := l.Claim(ctx, "s1", "a/1")
	r2, _ := l.Claim(ctx, "s1", "b/1")
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
			if got == (eventlog.ClaimEvent{SessionID: "s1", Owner: "b/1", Revision: r2}) {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("newest claim (rev %d) not seen", r2)
		}
	}
}

var testenvNATS = testenv.NATS
