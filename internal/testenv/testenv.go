// Package testenv starts real dependencies for tests: an embedded
// nats-server with JetStream on disk (random port, temporary directory).
package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetsse/jetsse/pkg/natsembed"
)

// NATS starts an embedded JetStream server in a temporary directory and
// returns it with a client connection; both are closed when the test ends.
func NATS(t testing.TB) (*server.Server, *nats.Conn) {
	t.Helper()
	ns := NATSServer(t, t.TempDir())
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return ns, nc
}

// NATSServer starts an embedded JetStream server storing in dir, listening
// on a random loopback port. It is shut down when the test ends.
func NATSServer(t testing.TB, dir string) *server.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := natsembed.Start(ctx, natsembed.Config{ClientAddr: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}
