package edge

import (
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/topic"
)

// testStream is a connection of session id as the registry sees it.
func testStream(svc *edge, id, claim string) *Stream {
	topics, err := topic.NewSet([]string{"t"}, topic.Limits{MaxTopics: 1, MaxLen: 8})
	if err != nil {
		panic(err)
	}
	st := &Stream{Session: SessionInfo{ID: id}, svc: svc, claim: claim, topics: topics}
	st.acks.init(0, time.Now)
	return st
}

func takenOver(st *Stream) bool { return st.stopWhy.Load() == stopTakeover }

// TestRegistryClaims: one attached connection per session, on this node
// and across nodes, decided by the claims' revisions.
func TestRegistryClaims(t *testing.T) {
	svc := &edge{metrics: DiscardMetrics(), lifecycle: discardLifecycle{}, cfg: Config{Now: time.Now}}
	r := newRegistry("n1")

	// On this node, a newer connection replaces the older one.
	a := testStream(svc, "s", "n1/1")
	if old := r.claim(a); old != nil {
		t.Fatal("a first claim replaced something")
	}
	r.stored(a, 5)
	b := testStream(svc, "s", "n1/2")
	if old := r.claim(b); old != a || !takenOver(a) || takenOver(b) {
		t.Fatalf("the second claim: replaced %v, a taken over %v, b %v", old, takenOver(a), takenOver(b))
	}
	r.stored(b, 6)

	// Claims of this node and detachments are not another node's claim.
	r.observe(eventlog.ClaimEvent{SessionID: "s", Claim: "n1/9", Revision: 99})
	r.observe(eventlog.ClaimEvent{SessionID: "s", Claim: "", Revision: 99})
	// An older claim of another node lost already.
	r.observe(eventlog.ClaimEvent{SessionID: "s", Claim: "n2/1", Revision: 4})
	if takenOver(b) {
		t.Fatal("taken over by its own node, a detachment or an older claim")
	}
	// A newer one wins.
	r.observe(eventlog.ClaimEvent{SessionID: "s", Claim: "n2/1", Revision: 7})
	if !takenOver(b) {
		t.Fatal("not taken over by a newer claim of another node")
	}
	if r.release(b) {
		t.Fatal("a connection taken over by another node was still registered")
	}

	// A claim seen while this node's own claim is being stored decides
	// when the revision is known.
	c := testStream(svc, "t", "n1/3")
	r.claim(c)
	r.observe(eventlog.ClaimEvent{SessionID: "t", Claim: "n2/2", Revision: 10})
	if takenOver(c) {
		t.Fatal("taken over before its own revision was known")
	}
	r.stored(c, 9)
	if !takenOver(c) {
		t.Fatal("not taken over by a claim newer than its own, seen first")
	}

	// In a bucket made again, revisions seen before count no more.
	d := testStream(svc, "u", "n1/4")
	r.claim(d)
	r.observe(eventlog.ClaimEvent{SessionID: "u", Claim: "n2/3", Revision: 50})
	r.reclaimed(d, 1)
	r.stored(d, 2)
	if takenOver(d) {
		t.Fatal("taken over by a revision of the old bucket")
	}

	// release runs then (the detachment's recording) only for the
	// session's registered connection, and then it is gone.
	called := 0
	if r.releaseThen(a, func() { called++ }) || called != 0 {
		t.Fatal("released a connection that was not the session's")
	}
	if !r.releaseThen(d, func() { called++ }) || called != 1 {
		t.Fatalf("releasing the session's connection: then called %d times", called)
	}
	r.locked("u", func(st *Stream) {
		if st != nil {
			t.Fatal("released, but still registered")
		}
	})
}

// TestStopReasons: one signal channel for every reason a stream stops; a
// takeover outranks a drain that came first, and nothing outranks it.
func TestStopReasons(t *testing.T) {
	svc := &edge{metrics: DiscardMetrics(), lifecycle: discardLifecycle{}, cfg: Config{Now: time.Now}}
	st := testStream(svc, "s", "n1/1")
	if err := st.stopErr(); err != nil {
		t.Fatalf("a new stream stops with %v", err)
	}
	// The stop channel, made when first asked for: asked for before the
	// stop, and after it.
	early := testStream(svc, "s2", "n1/2")
	ch := early.stopChan()
	early.takeOver()
	select {
	case <-ch:
	default:
		t.Fatal("takeover did not close a stop channel asked for before")
	}
	st.drain()
	select {
	case <-st.stopChan():
	default:
		t.Fatal("drain did not signal")
	}
	if err := st.stopErr(); err != ErrDraining {
		t.Fatalf("after drain: %v", err)
	}
	st.takeOver()
	st.drain()
	st.end()
	if err := st.stopErr(); err != ErrTakenOver {
		t.Fatalf("after drain, takeover, drain, end: %v", err)
	}
	if st.wasEnded() {
		t.Fatal("a taken-over stream counts as ended")
	}
}
