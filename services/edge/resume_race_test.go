package edge

import (
	"context"
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
// record: it would replay everything since the session's creation.
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
	second, err := svc.Subscribe(ctx, SubscribeRequest{Principal: anyone, Topics: []string{"orders.*"}, Token: first.Session.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if !second.Session.Resumed || second.Session.LastEventID != "3" {
		t.Fatalf("resumed %v from %q, want resumed from 3", second.Session.Resumed, second.Session.LastEventID)
	}
}

// anyone may subscribe and publish anywhere.
var anyone = Principal{Subscribe: auth.All(), Publish: auth.All()}
