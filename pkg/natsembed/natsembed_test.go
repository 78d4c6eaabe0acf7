package natsembed

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"", true},
		{"127.0.0.1:4222", true},
		{"127.0.0.1:0", true},
		{"127.1.2.3:4222", true},
		{"[::1]:4222", true},
		{"localhost:4222", true},
		{"LOCALHOST:4222", true},
		{"[::ffff:127.0.0.1]:4222", true},
		{":4222", false},
		{"0.0.0.0:4222", false},
		{"0.0.0.0:0", false},
		{"[::]:4222", false},
		{"10.0.0.1:4222", false},
		{"192.168.1.10:4222", false},
		{"[fe80::1%eth0]:4222", false},
		{"example.com:4222", false},
		{"localhost.example.com:4222", false},
		{"127.0.0.1", false}, // no port: does not parse
		{"garbage", false},
	} {
		if got := LoopbackOnly(tc.addr); got != tc.want {
			t.Errorf("LoopbackOnly(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func start(t *testing.T, cfg Config) *server.Server {
	t.Helper()
	cfg.StoreDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

func TestStartRefusesAnOpenListenerWithoutCredentials(t *testing.T) {
	for _, cfg := range []Config{
		{ClientAddr: "0.0.0.0:0"},
		{ClientAddr: ":0"},
		{ClientAddr: "[::]:0"},
		{ClientAddr: "127.0.0.1:0", Username: "jetsse"},
		{ClientAddr: "127.0.0.1:0", Password: "0123456789abcdef"},
	} {
		cfg.StoreDir = t.TempDir()
		ns, err := Start(context.Background(), cfg)
		if !errors.Is(err, ErrNoCredentials) {
			if ns != nil {
				ns.Shutdown()
			}
			t.Errorf("Start(%+v) = %v, want ErrNoCredentials", cfg, err)
		}
	}
}

// TestCredentials runs a server on every address with credentials: a
// client without them is refused, network and in-process clients with them
// use JetStream.
func TestCredentials(t *testing.T) {
	const user, pw = "jetsse", "0123456789abcdef0123456789abcdef"
	var logs strings.Builder
	ns := start(t, Config{ClientAddr: "0.0.0.0:0", Username: user, Password: pw,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	u := ClientURL(ns)
	if !strings.HasPrefix(u, "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want the loopback address", u)
	}

	for name, opts := range map[string][]nats.Option{
		"no credentials": nil,
		"wrong password": {nats.UserInfo(user, pw+"x")},
		"wrong user":     {nats.UserInfo("other", pw)},
	} {
		nc, err := nats.Connect(u, opts...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization error", name, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, opts := range map[string][]nats.Option{
		"network":    {nats.UserInfo(user, pw)},
		"in-process": {nats.UserInfo(user, pw), nats.InProcessServer(ns)},
	} {
		nc, err := nats.Connect(u, opts...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		stream := "S_" + strings.ReplaceAll(name, "-", "_")
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}}); err != nil {
			t.Fatalf("%s: creating a stream: %v", name, err)
		}
		ack, err := js.Publish(ctx, stream+".x", []byte("hello"))
		if err != nil || ack.Sequence != 1 {
			t.Fatalf("%s: publish: %v %+v", name, err, ack)
		}
		nc.Close()
	}
	// The server warned of no plain password (see plaintextWarning), and
	// logged no password.
	ns.Shutdown()
	ns.WaitForShutdown()
	if strings.Contains(logs.String(), "Plaintext") || strings.Contains(logs.String(), pw) {
		t.Errorf("warnings:\n%s", logs.String())
	}
}

// TestInProcessClientNeedsCredentials: the server checks in-process
// clients too. (Refused over the unbuffered in-process pipe, the client sees
// the pipe closed, after the server's 10 s write deadline for its -ERR, not
// nats.ErrAuthorization; so the test runs in parallel.)
func TestInProcessClientNeedsCredentials(t *testing.T) {
	t.Parallel()
	ns := start(t, Config{ClientAddr: "", Username: "jetsse", Password: "0123456789abcdef0123456789abcdef"})
	for name, opts := range map[string][]nats.Option{
		"no credentials": {nats.InProcessServer(ns)},
		"wrong password": {nats.InProcessServer(ns), nats.UserInfo("jetsse", "0123456789abcdef")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nc, err := nats.Connect("", opts...)
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
		})
	}
}

func TestNoCredentialsOnLoopback(t *testing.T) {
	ns := start(t, Config{ClientAddr: "127.0.0.1:0"})
	nc, err := nats.Connect(ClientURL(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatal(err)
	}
}
