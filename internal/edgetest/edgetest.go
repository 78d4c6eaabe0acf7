// Package edgetest starts the real parts an edge service runs on, for
// tests: an embedded JetStream, the event log over it, and the live path
// reading it, all stopped when the test ends.
package edgetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/internal/testenv"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/session"
)

// Deps are the running parts: the event log (sessions last a minute), the
// live path reading it, a session keyring, and a JetStream client of the
// same server (to do what an operator would).
type Deps struct {
	Log  *eventlog.Log
	Hub  *fanout.Hub
	Keys *session.Keyring
	JS   jetstream.JetStream
}

// Start starts them and waits until the live path reads the stream.
func Start(t testing.TB) Deps {
	t.Helper()
	_, nc := testenv.NATS(t)
	log, err := eventlog.Open(context.Background(), nc, eventlog.Config{SessionTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hub := fanout.New(fanout.Config{})
	Run(t, func(ctx context.Context) error { return hub.Run(ctx, log.LiveSource()) })
	Wait(t, "the live path", hub.Ready())
	keys, _ := session.NewKeyring([]byte(strings.Repeat("k", 32)))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return Deps{Log: log, Hub: hub, Keys: keys, JS: js}
}

// Run runs f until the test ends, then cancels its context and waits for
// it to return.
func Run(t testing.TB, f func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// Wait fails the test if ch is not closed within 10 seconds.
func Wait(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not start", what)
	}
}
