package edge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jetsse/jetsse/internal/testenv"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/session"
)

// StartService runs the real service (and its live path) over an embedded
// JetStream until the test ends, and waits until it is ready. wrap, when
// set, gives the store the service uses in place of the log.
func StartService(t *testing.T, wrap func(*eventlog.Log) Store) (*Edge, *eventlog.Log) {
	t.Helper()
	return StartServiceWith(t, wrap, nil)
}

// StartServiceWith is StartService with the service's Config adjusted by
// adjust (when set) before it starts.
func StartServiceWith(t *testing.T, wrap func(*eventlog.Log) Store, adjust func(*Config)) (*Edge, *eventlog.Log) {
	t.Helper()
	_, nc := testenv.NATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := eventlog.Open(ctx, nc, eventlog.Config{SessionTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var store Store = log
	if wrap != nil {
		store = wrap(log)
	}
	hub := fanout.New(log.JetStream(), fanout.Config{Stream: "EVENTS", Prefix: "events",
		StreamInfo: func(ctx context.Context) (fanout.View, error) {
			s, err := log.State(ctx)
			return fanout.View{First: s.FirstSeq, Last: s.LastSeq, Contiguous: s.Contiguous, Created: s.Created}, err
		}})
	keys, _ := session.NewKeyring([]byte(strings.Repeat("k", 32)))
	cfg := Config{Store: store, Live: hub, Keys: keys, NodeID: "test"}
	if adjust != nil {
		adjust(&cfg)
	}
	svc, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = hub.Run(ctx); done <- struct{}{} }()
	go func() { _ = svc.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done; log.Close() })
	for what, ch := range map[string]<-chan struct{}{"the live path": hub.Ready(), "session fencing": svc.Started()} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not start", what)
		}
	}
	if err := svc.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, log
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
