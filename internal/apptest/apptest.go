// Package apptest runs the real jetsse command in-process for tests of the
// tools that measure it (cmd/jetsse-bench and its probes).
package apptest

import (
	"context"
	"testing"
	"time"

	"github.com/jetsse/jetsse/cmd/jetsse/app"
)

// Start runs `jetsse serve` in-process on random loopback ports, with a
// fresh data dir, publishToken as the publish token and fsync every second,
// and stops it when the test ends (failing the test if it does not stop
// within 10 s).
func Start(t testing.TB, publishToken string) app.Ready {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Made before the stop cleanup is registered, so it is removed after
	// jetsse stopped (cleanups run last-in, first-out).
	dataDir := t.TempDir()
	ready := make(chan app.Ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"serve",
			"--data-dir", dataDir,
			"--http-addr", "127.0.0.1:0",
			"--nats-addr", "127.0.0.1:0",
			"--admin-addr", "",
			"--publish-token", publishToken,
			"--nats-sync", "1s",
			"--drain-timeout", "100ms",
			"--log-level", "warn",
		}, app.Options{OnReady: func(r app.Ready) { ready <- r }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("jetsse: %v", err)
			}
		case <-time.After(10 * time.Second):
			// Seen with cmd/jetsse/app at c2458dd: run.Group interrupts
			// actors one by one, and the app actors' interrupt waits for
			// httpDone, which only the later HTTP actor's interrupt closes.
			t.Errorf("jetsse did not stop within 10s of cancelling its context (shutdown deadlock in cmd/jetsse/app?)")
		}
	})
	select {
	case r := <-ready:
		return r
	case err := <-done:
		t.Fatalf("jetsse ended before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("jetsse not ready after 30s")
	}
	panic("unreachable")
}
