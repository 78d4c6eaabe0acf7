package edge

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/auth"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
)

// hookedLog is the real event log with a hook after each GetSession, and
// session updates held until gate is closed.
type hookedLog struct {
	*eventlog.Log
	afterGet atomic.Pointer[func(id string)]
	gate     chan struct{}
}

func (h *hookedLog) UpdateSession(ctx context.Context, id string, r eventlog.Record, rev uint64) (uint64, error) {
	<-h.gate
	return h.Log.UpdateSession(ctx, id, r, rev)
}

func (h *hookedLog) GetSession(ctx context.Context, id string) (eventlog.Record, uint64, error) {
	rec, rev, err := h.Log.GetSession(ctx, id)
	if f := h.afterGet.Swap(nil); f != nil {
		(*f)(id)
	}
	return rec, rev, err
}

// A reconnect that reads the session's record just before the node stores
// the detachment of the connection it left must not resume from that stale
// record: it would replay everything since the session's creation. The
// record is read when the session's record was written after the revision
// this node knew (see TestResumeAfterTheRecordChanged), which subscribe
// with a *recordChanged stands for here.
func TestResumeWhileTheDetachmentIsStored(t *testing.T) {
	var store *hookedLog
	svc, _ := startService(t, func(log *eventlog.Log) Store {
		store = &hookedLog{Log: log, gate: make(chan struct{})}
		return store
	})
	ctx := context.Background()

	first, err := svc.Subscribe(ctx, SubscribeRequest{Principal: anyone, Topics: []string{"orders.*"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := svc.Publish(ctx, PublishRequest{Principal: anyone, Topic: "orders.1", Data: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	// The connection wrote events 1-3 (no socket: written counts as had).
	first.Wrote(30, []*fanout.Event{{Seq: 3}}, time.Now().UnixNano())

	// The connection ends; storing its detachment is held up, so the
	// reconnect finds it pending, then reads the record (still position 0),
	// and meanwhile the detachment is stored.
	first.Close()
	storeNow := func(id string) {
		close(store.gate)
		waitUntil(t, "the detachment stored", func() bool {
			_, pending := svc.recorder.pendingPosition(id)
			return !pending
		})
	}
	store.afterGet.Store(&storeNow)
	second, err := svc.subscribe(ctx, SubscribeRequest{Principal: anyone, Topics: []string{"orders.*"}, Token: first.Session.Token}, &recordChanged{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if !second.Session.Resumed || second.Session.LastEventID != "3" {
		t.Fatalf("resumed %v from %q, want resumed from 3", second.Session.Resumed, second.Session.LastEventID)
	}
}

// countedLog is the real event log counting the record reads made for a
// request whose context carries readsOfRequest (the node's own background
// reads are not counted), with claims watch events held back while hold
// is set (a watch that lags).
type countedLog struct {
	*eventlog.Log
	gets atomic.Int64
	hold atomic.Bool
	// gate, if not nil, holds detachment writes (a record written with no
	// claim) until it is closed.
	gate chan struct{}
}

func (c *countedLog) GetSession(ctx context.Context, id string) (eventlog.Record, uint64, error) {
	if ctx.Value(readsOfRequest{}) != nil {
		c.gets.Add(1)
	}
	return c.Log.GetSession(ctx, id)
}

// startCounted starts a service on a countedLog, its detachment writes
// held if gated.
func startCounted(t *testing.T, gated bool) (*Edge, *eventlog.Log, *countedLog) {
	t.Helper()
	var store *countedLog
	svc, log := startService(t, func(l *eventlog.Log) Store {
		store = &countedLog{Log: l}
		if gated {
			store.gate = make(chan struct{})
		}
		return store
	})
	return svc, log, store
}

// readsOfRequest marks a request's context: countedLog counts its reads.
type readsOfRequest struct{}

// counted is a context whose record reads countedLog counts.
var counted = context.WithValue(context.Background(), readsOfRequest{}, true)

func (c *countedLog) UpdateSession(ctx context.Context, id string, r eventlog.Record, rev uint64) (uint64, error) {
	if r.Claim == "" && c.gate != nil {
		<-c.gate
	}
	return c.Log.UpdateSession(ctx, id, r, rev)
}

func (c *countedLog) WatchClaims(ctx context.Context, ready func(), fn func(eventlog.ClaimEvent)) error {
	return c.Log.WatchClaims(ctx, ready, func(ev eventlog.ClaimEvent) {
		if !c.hold.Load() {
			fn(ev)
		}
	})
}

// publishN publishes n events to orders.1.
func publishN(t *testing.T, svc *Edge, n int) {
	t.Helper()
	for range n {
		if _, err := svc.Publish(context.Background(), PublishRequest{Principal: anyone, Topic: "orders.1", Data: "x"}); err != nil {
			t.Fatal(err)
		}
	}
}

// attachAt subscribes a new session to orders.*, publishes n events and
// has the connection write them all; it returns the connection.
func attachAt(t *testing.T, svc *Edge, n int) *Stream {
	t.Helper()
	st, err := svc.Subscribe(context.Background(), SubscribeRequest{Principal: anyone, Topics: []string{"orders.*"}})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, svc, n)
	st.Wrote(10*n, []*fanout.Event{{Seq: uint64(n)}}, time.Now().UnixNano())
	return st
}

// moveRecord rewrites a session's record at position pos, as another
// writer would, behind the service's back.
func moveRecord(t *testing.T, log *eventlog.Log, id string, pos uint64) {
	t.Helper()
	ctx := context.Background()
	e, err := log.Session(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r := e.Record
	r.Position = pos
	if _, err := log.UpdateSession(ctx, id, r, e.Revision); err != nil {
		t.Fatal(err)
	}
}

// detachAt is attachAt, then the connection closes.
func detachAt(t *testing.T, svc *Edge, n int) *Stream {
	t.Helper()
	st := attachAt(t, svc, n)
	st.Close()
	return st
}

// A reconnect to the node that knows the session detached (stored, or
// still being stored) claims it without reading its record, and resumes
// from the position it left at; the record then names the new connection.
func TestResumeFromAKnownRecord(t *testing.T) {
	ctx := context.Background()
	for _, stored := range []bool{true, false} {
		svc, log, store := startCounted(t, !stored)
		first := detachAt(t, svc, 3)
		id := first.Session.ID
		if stored {
			waitUntil(t, "the detachment stored and seen", func() bool {
				r, ok := svc.detached.get(id)
				return ok && r.rev != 0 && r.Position == 3
			})
		}
		gets := store.gets.Load()
		second, err := svc.Subscribe(counted, SubscribeRequest{Principal: anyone, Topics: []string{"orders.*"}, Token: first.Session.Token})
		if err != nil {
			t.Fatal(err)
		}
		if !second.Session.Resumed || second.Session.ID != id || second.Session.LastEventID != "3" {
			t.Fatalf("stored %v: resumed %v %s from %q, want %s from 3", stored, second.Session.Resumed, second.Session.ID, second.Session.LastEventID, id)
		}
		if n := store.gets.Load() - gets; n != 0 {
			t.Fatalf("stored %v: the record was read %d times, want none", stored, n)
		}
		if !stored {
			close(store.gate) // the detachment's write now finds the claim
			waitUntil(t, "the detachment dropped", func() bool {
				_, pending := svc.recorder.pendingPosition(id)
				return !pending
			})
		}
		e, err := log.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Record.Claim != second.claim || e.Record.Position != 3 || e.Record.Reconnects != 1 {
			t.Fatalf("stored %v: record %+v, want claimed by %s at 3 with 1 reconnect", stored, e.Record, second.claim)
		}
		second.Close()
	}
}

// A session record written after the revision the node knew (another
// node's connection moved it on and left, or an operator ended it, while
// this node's watch had not seen it yet) is read after all: the reconnect
// resumes from the record, or is refused.
func TestResumeAfterTheRecordChanged(t *testing.T) {
	ctx := context.Background()
	svc, log, store := startCounted(t, false)
	first := detachAt(t, svc, 3)
	id := first.Session.ID
	waitUntil(t, "the detachment stored and seen", func() bool {
		r, ok := svc.detached.get(id)
		return ok && r.rev != 0
	})
	publishN(t, svc, 2) // events 4 and 5
	store.hold.Store(true)
	moveRecord(t, log, id, 5)
	gets := store.gets.Load()
	second, err := svc.Subscribe(counted, SubscribeRequest{Principal: anyone, Topics: []string{"orders.*"}, Token: first.Session.Token})
	if err != nil {
		t.Fatal(err)
	}
	if !second.Session.Resumed || second.Session.LastEventID != "5" {
		t.Fatalf("resumed %v from %q, want resumed from 5 (the record)", second.Session.Resumed, second.Session.LastEventID)
	}
	if store.gets.Load() == gets {
		t.Fatal("the record was not read")
	}
	second.Close()

	// Stored detached again and seen; then ended by an operator unseen.
	store.hold.Store(false)
	waitUntil(t, "the second detachment stored and seen", func() bool {
		r, ok := svc.detached.get(id)
		return ok && r.rev != 0 && r.Reconnects == 1
	})
	store.hold.Store(true)
	if _, err := log.EndSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Subscribe(ctx, SubscribeRequest{Principal: anyone, Topics: []string{"orders.*"}, Token: first.Session.Token})
	if !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("resuming an ended session: %v, want ErrSessionEnded", err)
	}
}

// A reconnect while the session's connection is still attached here (the
// node has not seen the old one close yet) takes it over without reading
// the record, from what the old one's client surely had; if the record was
// written since (a checkpoint), the record is read and the position the
// old connection held still counts.
func TestResumeOverAnAttachedConnection(t *testing.T) {
	ctx := context.Background()
	for _, checkpointed := range []bool{false, true} {
		svc, log, store := startCounted(t, false)
		first := attachAt(t, svc, 3)
		id := first.Session.ID
		if checkpointed { // at 1, behind the connection's back
			moveRecord(t, log, id, 1)
		}
		gets := store.gets.Load()
		second, err := svc.Subscribe(counted, SubscribeRequest{Principal: anyone, Topics: []string{"orders.*"}, Token: first.Session.Token})
		if err != nil {
			t.Fatal(err)
		}
		if !second.Session.Resumed || second.Session.ID != id || second.Session.LastEventID != "3" {
			t.Fatalf("checkpointed %v: resumed %v from %q, want from 3", checkpointed, second.Session.Resumed, second.Session.LastEventID)
		}
		if read := store.gets.Load() != gets; read != checkpointed {
			t.Fatalf("checkpointed %v: the record read: %v", checkpointed, read)
		}
		if err := first.stopErr(); !errors.Is(err, ErrTakenOver) {
			t.Fatalf("checkpointed %v: the first connection stopped with %v, want taken over", checkpointed, err)
		}
		e, err := log.Session(ctx, id)
		if err != nil || e.Record.Claim != second.claim {
			t.Fatalf("checkpointed %v: record %+v (%v), want claimed by %s", checkpointed, e.Record, err, second.claim)
		}
		first.Close()
		second.Close()
	}
}

// anyone may subscribe and publish anywhere.
var anyone = Principal{Subscribe: auth.All(), Publish: auth.All()}
