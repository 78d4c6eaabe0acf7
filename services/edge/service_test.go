package edge

import (
	"context"
	"testing"
	"time"

	"github.com/jetsse/jetsse/internal/edgetest"
	"github.com/jetsse/jetsse/pkg/eventlog"
)

// startService runs the real service over an embedded JetStream until the
// test ends, and waits until it is ready. wrap, when set, gives the store
// the service uses in place of the log.
func startService(t *testing.T, wrap func(*eventlog.Log) Store) (*Edge, *eventlog.Log) {
	t.Helper()
	d := edgetest.Start(t)
	var store Store = d.Log
	if wrap != nil {
		store = wrap(d.Log)
	}
	svc, err := NewService(Config{Store: store, Live: d.Hub, Keys: d.Keys, NodeID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	edgetest.Run(t, svc.Run)
	edgetest.Wait(t, "the service", svc.Started())
	if err := svc.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	return svc, d.Log
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval
	}
}
