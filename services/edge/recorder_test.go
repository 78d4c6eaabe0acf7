package edge

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jetsse/jetsse/internal/edgetest"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/topic"
)

func newTestRecorder(t *testing.T, rate int) (*recorder, *registry, edgetest.Deps) {
	t.Helper()
	d := edgetest.Start(t)
	reg := newRegistry("n1")
	rec := newRecorder(d.Log, reg, time.Second, time.Minute, rate, DiscardMetrics(), slog.New(slog.DiscardHandler), time.Now)
	return rec, reg, d
}

// attachedStream is a connection of session id, claimed in the bucket, at
// position pos and last recorded long ago.
func attachedStream(t *testing.T, d edgetest.Deps, reg *registry, id, claim string, pos uint64) *Stream {
	t.Helper()
	ts, err := topic.NewSet([]string{"t"}, topic.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st := testStream(&edge{metrics: DiscardMetrics(), lifecycle: discardLifecycle{}, cfg: Config{Now: time.Now}}, id, claim)
	st.topics, st.created = ts, time.Now().UnixMilli()
	st.acks.wrote(10, pos, time.Now().UnixNano())
	st.written.Store(pos)
	reg.claim(st)
	rev, err := d.Log.Claim(context.Background(), id, st.record(0))
	if err != nil {
		t.Fatal(err)
	}
	reg.stored(st, rev)
	return st
}

// publishEvents publishes n events to topic t.
func publishEvents(t *testing.T, d edgetest.Deps, n int) {
	t.Helper()
	for range n {
		if _, err := d.Log.Publish(context.Background(), "t", "", []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
}

// flushedDetachedAt flushes k's detachments and checks that session id is
// no longer pending, its record says detached at pos, and its consumer is
// there.
func flushedDetachedAt(t *testing.T, k *recorder, d edgetest.Deps, id string, pos uint64) {
	t.Helper()
	ctx := context.Background()
	k.flushDetached(ctx)
	if _, ok := k.pendingPosition(id); ok {
		t.Fatal("still pending after the flush")
	}
	r, _, err := d.Log.GetSession(ctx, id)
	if err != nil || r.Claim != "" || r.Position != pos {
		t.Fatalf("record %+v (%v), want detached at %d", r, err, pos)
	}
	if c, err := d.Log.Consumer(ctx, id); err != nil || c.Position != pos {
		t.Fatalf("consumer %+v (%v), want at %d", c, err, pos)
	}
}

// TestRecorderStoresADetachment: a detached session's record says so at
// its position, its consumer is made there, and the position is known
// locally until then.
func TestRecorderStoresADetachment(t *testing.T) {
	k, reg, d := newTestRecorder(t, 100)
	publishEvents(t, d, 6)
	id := "0000000000000000000000000000000a"
	st := attachedStream(t, d, reg, id, "n1/1", 5)
	k.detached(id, detachment{rec: st.record(5), rev: st.rev.Load()})
	if pos, ok := k.pendingPosition(id); !ok || pos != 5 {
		t.Fatalf("pending position %d (%v), want 5", pos, ok)
	}
	flushedDetachedAt(t, k, d, id, 5)
}

// TestRecorderHandsADetachmentToAReconnect: a pending detachment handed to
// a reconnect is not stored meanwhile (the reconnect claims over its
// revision) but its position stays known; given back, it is stored. One
// being stored is only shown, not handed over.
func TestRecorderHandsADetachmentToAReconnect(t *testing.T) {
	ctx := context.Background()
	k, reg, d := newTestRecorder(t, 100)
	id := "0000000000000000000000000000000c"
	st := attachedStream(t, d, reg, id, "n1/1", 5)
	rev := st.rev.Load()
	k.detached(id, detachment{rec: st.record(5), rev: rev})

	got, inFlight, ok := k.reclaim(id)
	if !ok || inFlight || got.rev != rev || got.rec.Position != 5 {
		t.Fatalf("reclaim: %+v, in flight %v, %v; want revision %d at 5, handed over", got, inFlight, ok, rev)
	}
	if _, _, again := k.reclaim(id); again {
		t.Fatal("handed to two reconnects")
	}
	k.flushDetached(ctx)
	if r, rrev, _ := d.Log.GetSession(ctx, id); rrev != rev || r.Claim != "n1/1" {
		t.Fatalf("record %+v at %d: written while handed over (want n1/1 at %d)", r, rrev, rev)
	}
	if pos, pending := k.pendingPosition(id); !pending || pos != 5 {
		t.Fatalf("pending position %d (%v) while handed over, want 5", pos, pending)
	}

	k.unclaimed(id, got.gen)
	if !k.startStoring(id, got.gen) {
		t.Fatal("given back, it is not queued")
	}
	if d, inFlight, ok := k.reclaim(id); !ok || !inFlight || d.rev != rev {
		t.Fatalf("reclaim while storing: %+v, in flight %v, %v", d, inFlight, ok)
	}
	k.unclaimed(id, got.gen) // not handed over: no effect
	if _, _, ok := k.reclaim(id); !ok {
		t.Fatal("the detachment being stored was lost")
	}
}

// TestRecorderDetachesAfterItsOwnCheckpoint: a detachment whose revision a
// checkpoint of the same connection moved on (written while the
// connection closed) is still stored, not dropped as taken over: else the
// record, left naming a connection that is gone, expires with the session.
func TestRecorderDetachesAfterItsOwnCheckpoint(t *testing.T) {
	ctx := context.Background()
	k, reg, d := newTestRecorder(t, 100)
	publishEvents(t, d, 6)
	id := "0000000000000000000000000000000d"
	st := attachedStream(t, d, reg, id, "n1/1", 5)
	left := st.rev.Load()
	if _, err := d.Log.UpdateSession(ctx, id, st.record(3), left); err != nil { // the checkpoint
		t.Fatal(err)
	}
	k.detached(id, detachment{rec: st.record(5), rev: left})
	flushedDetachedAt(t, k, d, id, 5)
}

// TestRecorderDropsALostDetachment: a connection that lost its session to
// a newer one never overwrites the newer one's record.
func TestRecorderDropsALostDetachment(t *testing.T) {
	ctx := context.Background()
	k, reg, d := newTestRecorder(t, 100)
	id := "0000000000000000000000000000000b"
	old := attachedStream(t, d, reg, id, "n1/1", 3)
	if _, err := d.Log.Claim(ctx, id, eventlog.Record{Claim: "n2/1", Position: 3, Topics: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	k.detached(id, detachment{rec: old.record(4), rev: old.rev.Load()})
	k.flushDetached(ctx)
	if _, ok := k.pendingPosition(id); ok {
		t.Fatal("a lost detachment stays pending")
	}
	if r, _, _ := d.Log.GetSession(ctx, id); r.Claim != "n2/1" {
		t.Fatalf("record %+v: the newer claim was overwritten", r)
	}
}

// TestRecorderSweepsAtItsRate: attached sessions that moved on are recorded
// at most rate a second, the longest unrecorded first; one whose record a
// newer connection claimed is taken over.
func TestRecorderSweepsAtItsRate(t *testing.T) {
	ctx := context.Background()
	k, reg, d := newTestRecorder(t, 10)
	ids := []string{"00000000000000000000000000000001", "00000000000000000000000000000002", "00000000000000000000000000000003"}
	var streams []*Stream
	for i, id := range ids {
		st := attachedStream(t, d, reg, id, "n1/"+string(rune('1'+i)), 7)
		st.recordedAt.Store(time.Now().Add(-time.Duration(10-i) * time.Minute).UnixNano())
		streams = append(streams, st)
	}
	// A tick of 200 ms at 10 a second: 2 records, the two oldest.
	k.sweepAttached(ctx, 200*time.Millisecond)
	for i, st := range streams {
		r, _, _ := d.Log.GetSession(ctx, st.Session.ID)
		if want := uint64(0); i == 2 && (r.Position != want || st.recorded.Load() != 0) {
			t.Fatalf("session %d recorded at %d, want not yet", i+1, r.Position)
		} else if i < 2 && (r.Position != 7 || st.recorded.Load() != 7) {
			t.Fatalf("session %d recorded at %d, want 7", i+1, r.Position)
		}
	}
	// The third's record is claimed by another node: its next sweep finds
	// it lost and ends it.
	if _, err := d.Log.Claim(ctx, ids[2], eventlog.Record{Claim: "n2/1", Topics: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	k.sweepAttached(ctx, 200*time.Millisecond)
	if !takenOver(streams[2]) {
		t.Fatal("a connection whose record another node claimed was not taken over")
	}
}

// TestRecorderAfterTheBucketIsMadeAgain: revisions count from 1 again in a
// bucket made again, so a connection may hold a revision that matches
// nothing or the wrong write; its record is still its own while it names
// it, and is written at the current revision.
func TestRecorderAfterTheBucketIsMadeAgain(t *testing.T) {
	ctx := context.Background()
	k, reg, d := newTestRecorder(t, 100)
	id := "0000000000000000000000000000000c"
	st := attachedStream(t, d, reg, id, "n1/1", 2)
	if err := d.JS.DeleteStream(ctx, "KV_jetsse_sessions"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Log.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	k.bucketRecreated()
	// The new bucket: this connection's record, written twice since.
	rec := st.record(2)
	if _, err := d.Log.Claim(ctx, id, rec); err != nil {
		t.Fatal(err)
	}
	cur, err := d.Log.Claim(ctx, id, rec)
	if err != nil {
		t.Fatal(err)
	}
	stale := cur - 1
	rev, err := k.update(ctx, id, "n1/1", st.record(3), stale)
	if err != nil || rev <= cur {
		t.Fatalf("update at a stale revision of its own record: rev %d, %v", rev, err)
	}
	if r, _, _ := d.Log.GetSession(ctx, id); r.Position != 3 {
		t.Fatalf("record at %d, want 3", r.Position)
	}
	// A record that names another connection stays lost.
	if _, err := k.update(ctx, id, "n1/9", st.record(4), stale); !errors.Is(err, eventlog.ErrLostClaim) {
		t.Fatalf("another connection's record: %v, want ErrLostClaim", err)
	}
	// A record that is gone is written anew.
	other := "0000000000000000000000000000000d"
	if _, err := k.update(ctx, other, "n1/2", eventlog.Record{Claim: "n1/2", Position: 1, Topics: []string{"t"}}, 7); err != nil {
		t.Fatalf("a record missing from the new bucket: %v", err)
	}
}
