package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	oklog "github.com/oklog/run"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/floor"
	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/natsembed"
)

const floorUsage = `Usage: jetsse-bench floor [flags]

The raw-socket floor: the cheapest SSE server that writes jetsse's bytes
(response head, retry:, the session event, then id:/event:/data: frames) to
the same kind of sockets, with one plain Write per connection and write
round. It embeds a nats-server with JetStream and jetsse's stream (EVENTS,
subjects events.>), or joins one with --nats-url, and follows the stream
with one ordered consumer, as jetsse's live path does: event ids are stream
sequences, so ` + "`jetsse-bench fanout`" + ` runs against it unchanged, and
--pid <its pid> gives the floor's CPU per delivery. With --publish-token it
also answers POST /publish (jetsse's body and answer, stored by the same
JetStream publish), for --publisher http. Connections are live only (no
sessions, no resume), one topic each; with --ring N, the last N events are
kept in memory and a connection with the floor's session token and
Last-Event-ID gets those after it first (the cheapest resume: no records,
positions or gap checks), for ` + "`jetsse-bench storm`" + `.

Example (docs/benchmarks.md, "Raw-socket floor"):
  jetsse-bench floor --data-dir $(mktemp -d) --http-addr 127.0.0.1:8080 --nats-addr 127.0.0.1:4222 --publish-token bench-publish-token &
  jetsse-bench fanout --addr 127.0.0.1:8080 --nats nats://127.0.0.1:4222 --pid $! --label floor --n 1000 --k 300 --rate 10

Flags:
`

// floorReady is told the floor's addresses once it serves.
type floorReady func(httpAddr, natsURL string)

// floorCmd is the floor subcommand: it serves until ctx ends.
func floorCmd(ctx context.Context, args []string, stderr io.Writer, ready floorReady) error {
	fs := flag.NewFlagSet("jetsse-bench floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "HTTP listen address for GET /events?topic=<t>")
	natsAddr := fs.String("nats-addr", "127.0.0.1:4222", "embedded NATS client listen address (the fan-out publisher connects here)")
	dataDir := fs.String("data-dir", "", "embedded JetStream store directory (default: a temporary one, removed at exit)")
	natsSync := fs.String("nats-sync", "always", "embedded JetStream fsync policy, as jetsse's --nats-sync: always, or an interval such as 1s")
	natsURL := fs.String("nats-url", "", "join this NATS server instead of embedding one (its stream must exist or be creatable)")
	stream := fs.String("stream", defaults.Stream, "JetStream stream name")
	prefix := fs.String("subject-prefix", defaults.SubjectPrefix, "topic t is subject <prefix>.t")
	retry := fs.Duration("retry", defaults.Retry, "retry: sent to clients (±50% jitter, as jetsse)")
	writers := fs.Int("writers", 0, "writer goroutines, each owning a share of the connections (default GOMAXPROCS)")
	publishToken := fs.String("publish-token", "", "bearer token for POST /publish (jetsse's body and answer; empty: no POST /publish)")
	ring := fs.Int("ring", 0, "keep the last N events in memory, for Last-Event-ID resumes (reconnect storms; 0: live only)")
	allowRemote := fs.Bool("allow-remote", false, "allow listening on non-loopback addresses")
	fs.Usage = func() {
		fmt.Fprint(stderr, floorUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !*allowRemote && (!natsembed.LoopbackOnly(*httpAddr) || *httpAddr == "") {
		return fmt.Errorf("--http-addr %q is not a loopback address (--allow-remote lifts that)", *httpAddr)
	}

	var nc *nats.Conn
	shownURL := *natsURL
	if *natsURL != "" {
		c, err := nats.Connect(*natsURL, nats.Name("jetsse-bench floor"))
		if err != nil {
			return fmt.Errorf("--nats-url: %w", err)
		}
		nc = c
	} else {
		always, interval := true, time.Duration(0)
		if *natsSync != "always" {
			d, err := time.ParseDuration(*natsSync)
			if err != nil || d <= 0 {
				return fmt.Errorf("--nats-sync: %q is not \"always\" or a positive duration", *natsSync)
			}
			always, interval = false, d
		}
		dir := *dataDir
		if dir == "" {
			d, err := os.MkdirTemp("", "jetsse-floor-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(d)
			dir = d
		}
		ns, err := natsembed.Start(ctx, natsembed.Config{
			ServerName: "jetsse-floor", ClientAddr: *natsAddr, StoreDir: dir,
			SyncAlways: always, SyncInterval: interval,
		})
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		c, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("jetsse-bench floor"))
		if err != nil {
			return fmt.Errorf("connecting to the embedded NATS server: %w", err)
		}
		nc = c
		shownURL = natsembed.ClientURL(ns)
	}
	defer nc.Close()

	log, err := eventlog.Open(ctx, nc, eventlog.Config{Stream: *stream, Prefix: *prefix, MaxAge: defaults.MaxAge, MaxBytes: defaults.MaxBytes})
	if err != nil {
		return err
	}
	fc := floor.Config{Source: log.LiveSource(), Retry: *retry, Writers: *writers, Ring: *ring}
	if *publishToken != "" {
		fc.PublishToken = *publishToken
		fc.Publish = func(ctx context.Context, topic, eventType string, data []byte) (uint64, error) {
			return log.Publish(ctx, topic, eventType, data, "")
		}
	}
	srv, err := floor.New(fc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}

	var g oklog.Group
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { <-ctx.Done(); return nil }, func(error) { cancel() })
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			return srv.Run(ctx, func() {
				addr := ln.Addr().String()
				fmt.Fprintf(stderr, "jetsse-bench floor: serving http://%s/events?topic=<t>, NATS %s, pid %d\n", addr, shownURL, os.Getpid())
				if ready != nil {
					ready(addr, shownURL)
				}
			})
		}, func(error) { cancel() })
	}
	g.Add(func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, func(error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx) // hijacked streams are the floor's to close
	})
	if err := g.Run(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
