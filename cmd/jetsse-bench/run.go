package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/bench"
)

const usage = `jetsse-bench: load tool for jetsse and peer SSE servers.

Usage:
  jetsse-bench <scenario> [flags]
  jetsse-bench chart --out chart.svg results.json [more.json ...]
  jetsse-bench floor-server --addr 127.0.0.1:8090

Scenarios:
  fanout   N subscribers on one topic, K events at a fixed rate and/or at the
           maximum rate: deliveries/s, latency percentiles, losses and
           duplicates, server CPU µs per delivered event (--pid)
  idle     server RSS with 0 and N idle attached sessions: KiB per session
           (--pid required; use a freshly started server)
  resume   a session misses M events and reconnects (Last-Event-ID, cookie,
           or Jetsse-Session header): time until caught up
  storm    N sessions dropped and reconnected within T seconds while events
           are published: time until all resumed, HTTP errors, losses
  sparse   catch-up of a topic that is 1 in 100 events of a busy stream
  publish  K events published by W concurrent publishers as fast as they are
           acknowledged, over HTTP (one event or --batch B per request) or
           NATS (synchronous, or --window async): events/s, latency, server
           CPU µs per event (--pid), and what the stream holds afterwards
  all      idle, fanout, resume, sparse and storm with their defaults
  floor    serve the raw-socket floor: jetsse's bytes written to the same
           sockets with plain writes and nothing else, for fanout --pid to
           show loopback's write(2) cost (jetsse-bench floor -h)
  chart    draw an SVG chart from result files (x = N; CPU µs per delivery,
           KiB per idle session, p99 latency; a line per label and rate)
  floor-server
           the cheapest HTTP publish endpoint (answers {"id":"n"}, stores
           nothing): publish to it for the HTTP floor of the publish scenario

Every run talks only to the loopback addresses given by flags (--allow-remote
lifts that), is bounded by --timeout and by its counts, and writes one JSON
object per run to stdout and, with --out, to a JSON array file.

Connections: each subscriber is one TCP connection (and one file descriptor).
On Unix the tool raises its soft RLIMIT_NOFILE to the hard limit; for 10,000
subscribers the hard limit must be above ~10,100 (ulimit -Hn; raise it with
ulimit -n 65536 as root or in limits.conf), and the server needs the same.
One source address gives ~28,000 ephemeral ports (ip_local_port_range) to one
server port, and closed connections sit in TIME_WAIT for 60s; storms and
repeated 10,000-connection runs can use --source-ips 4 to spread connections
over 127.0.0.1..127.0.0.4.

Example against a local jetsse:
  jetsse serve --data-dir /tmp/j --http-addr 127.0.0.1:8080 --nats-addr 127.0.0.1:4222 --publish-token bench-publish-token &
  jetsse-bench fanout --addr 127.0.0.1:8080 --nats nats://127.0.0.1:4222 --pid $! --n 100,1000 --rate 10,0 --out jetsse.json --chart chart.svg
`

// run is the command line; main is a thin wrapper so tests call this.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "chart":
		return chartCmd(args, stderr)
	case "floor":
		return floorCmd(ctx, args, stderr, nil)
	}
	if cmd == "floor-server" {
		return floorServerCmd(ctx, args, stderr, nil)
	}
	fs := flag.NewFlagSet("jetsse-bench "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	o.register(fs)
	var sc scenarioFlags
	switch cmd {
	case "fanout":
		sc.registerFanout(fs, "rate")
	case "idle":
		sc.registerIdle(fs)
	case "resume":
		sc.registerResume(fs)
	case "storm":
		sc.registerStorm(fs, "rate")
	case "sparse":
		sc.registerSparse(fs)
	case "publish":
		sc.registerPublish(fs, &o.workers)
	case "all":
		sc.registerFanout(fs, "rate")
		sc.registerIdle(fs)
		sc.registerResume(fs)
		sc.registerStorm(fs, "storm-rate")
		sc.registerSparse(fs)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown subcommand %q", cmd)
	}
	sc.ns = intListOf("100")
	if cmd == "all" {
		sc.ns = intListOf("100,1000,10000")
	}
	fs.Var(&sc.ns, "n", "subscribers/sessions, comma-separated for scaling runs (fanout, idle, storm)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: jetsse-bench %s [flags]\n\n", cmd)
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "\nFor 10,000 connections the file descriptor limit must allow them: see `jetsse-bench -h`.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := sc.validate(); err != nil {
		return err
	}
	env, err := o.env(ctx, stderr)
	if err != nil {
		return err
	}
	if cmd == "all" && !env.Procs.Enabled() {
		return errors.New("all needs the server's --pid (idle measures its memory)")
	}
	sc.size = o.size
	if cmd == "publish" {
		sc.pub.Size, sc.pub.Workers = o.size, o.workers
		if sc.pub.Size == 0 {
			sc.pub.Size = 100
		}
		if sc.pub.Verify == "stream" && !o.allowRemote {
			if err := bench.CheckLoopback(ctx, o.natsURL); err != nil {
				return err
			}
		}
	}
	if fdMax, err := bench.RaiseFDLimit(); err != nil {
		return fmt.Errorf("raising the file descriptor limit: %w", err)
	} else if need := uint64(slices.Max(sc.ns)) + 64; fdMax < need {
		return fmt.Errorf("%d subscribers need about %d file descriptors but the limit is %d: raise it (ulimit -n) first", slices.Max(sc.ns), need, fdMax)
	}

	var results []any
	emit := func(r any) error {
		results = append(results, r)
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	runErr := sc.run(ctx, cmd, env, emit)
	if len(results) > 0 {
		if err := o.write(results); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}
