package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/bench"
)

const usage = `jetsse-bench: load tool for jetsse and peer SSE servers.

Usage:
  jetsse-bench <scenario> [flags]
  jetsse-bench chart --out chart.svg results.json [more.json ...]

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
  all      idle, fanout, resume, sparse and storm with their defaults
  chart    draw an SVG chart from result files (x = N; CPU µs per delivery,
           KiB per idle session, p99 latency; a line per label and rate)

Every run talks only to the loopback addresses given by flags (--allow-remote
lifts that), is bounded by --timeout and by its counts, and writes one JSON
object per run to stdout and, with --out, to a JSON array file.

Connections: each subscriber is one TCP connection (and one file descriptor).
The tool raises its soft RLIMIT_NOFILE to the hard limit; for 10,000
subscribers the hard limit must be above ~10,100 (ulimit -Hn; raise it with
ulimit -n 65536 as root or in limits.conf), and the server needs the same.
One source address gives ~28,000 ephemeral ports (ip_local_port_range) to one
server port, and closed connections sit in TIME_WAIT for 60s; storms and
repeated 10,000-connection runs can use --source-ips 4 to spread connections
over 127.0.0.1..127.0.0.4.

Example against a local jetsse:
  jetsse serve --data-dir /tmp/j --http-addr 127.0.0.1:8080 --nats-addr 127.0.0.1:4222 --publish-token tok &
  jetsse-bench fanout --addr 127.0.0.1:8080 --nats nats://127.0.0.1:4222 --pid $! --n 100,1000 --rate 10,0 --out jetsse.json --chart chart.svg
`

// run is the command line; main is a thin wrapper so tests call this.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	if cmd == "chart" {
		return chartCmd(args, stderr)
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

// options are the flags every scenario shares.
type options struct {
	addr, sseURL, natsURL, prefix   string
	publisher, publishURL, token    string
	template                        string
	headers                         stringList
	workers, maxInFlight            int
	pids, label, seq, attach        string
	resumeURL                       string
	out, chart                      string
	appendOut                       bool
	timeout, drain, connectTimeout  time.Duration
	sourceIPs, dialConc, readBuffer int
	size                            int
	allowRemote, quiet              bool
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "jetsse HTTP address (host:port); sets the default --sse-url and --publish-url")
	fs.StringVar(&o.sseURL, "sse-url", "", "subscribe URL, {topic} is replaced by the topic (default http://<addr>/events?topic={topic})")
	fs.StringVar(&o.natsURL, "nats", "nats://127.0.0.1:4222", "NATS URL for --publisher nats")
	fs.StringVar(&o.prefix, "subject-prefix", "events", "topic t is published to subject <prefix>.t")
	fs.StringVar(&o.publisher, "publisher", "nats", "nats (JetStream publish) or http (POST --publish-url)")
	fs.StringVar(&o.publishURL, "publish-url", "", "HTTP publish URL (default http://<addr>/publish)")
	fs.StringVar(&o.token, "publish-token", "", "bearer token for --publish-url")
	fs.StringVar(&o.template, "publish-template", bench.DefaultPublishTemplate, "HTTP publish body: a Go text/template over .Topic and .Data; json quotes a value")
	fs.Var(&o.headers, "publish-header", "extra HTTP publish header \"Name: value\" (repeatable)")
	fs.IntVar(&o.workers, "publish-workers", 4, "concurrent HTTP publish requests")
	fs.IntVar(&o.maxInFlight, "max-inflight", 256, "unacknowledged NATS publishes allowed")
	fs.StringVar(&o.pids, "pid", "", "server process id(s), comma-separated, for CPU (/proc/<pid>/stat) and RSS (/proc/<pid>/status); Linux only")
	fs.StringVar(&o.label, "label", "jetsse", "name of the server under test in results and charts")
	fs.StringVar(&o.seq, "seq", "id", "sequence for losses and duplicates: id (SSE id is the stream sequence) or data (publisher counter in the payload; every payload in an event's data counts)")
	fs.StringVar(&o.attach, "attach", "session", "when a subscriber counts as attached: session (jetsse's session event) or first (the first event or comment, for other servers)")
	fs.StringVar(&o.resumeURL, "resume-url", "", "subscribe URL of a reconnect that presents the client's position: {topic}, {last_id} (last SSE id) and {data:KEY} (last value of member KEY in event data), plain or percent-encoded (default: --sse-url)")
	fs.StringVar(&o.out, "out", "", "write results to this JSON file (an array of runs)")
	fs.BoolVar(&o.appendOut, "append", false, "append to --out instead of replacing it")
	fs.StringVar(&o.chart, "chart", "", "write an SVG chart of the results (of --out when given) to this file")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "bound on each run")
	fs.DurationVar(&o.drain, "drain", 5*time.Second, "stop waiting for deliveries after this long without progress; missing events count as lost")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 10*time.Second, "dial and response head timeout per connection")
	fs.IntVar(&o.sourceIPs, "source-ips", 1, "spread connections over source addresses 127.0.0.1..127.0.0.K (loopback targets)")
	fs.IntVar(&o.dialConc, "dial-concurrency", 64, "connections being opened at once")
	fs.IntVar(&o.readBuffer, "read-buffer", 4096, "read buffer per connection in bytes")
	fs.IntVar(&o.size, "size", 0, "pad event payloads to this many bytes")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow non-loopback targets")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines")
}

func (o *options) env(ctx context.Context, stderr io.Writer) (*bench.Env, error) {
	seq, err := bench.ParseSeqMode(o.seq)
	if err != nil {
		return nil, err
	}
	attach, err := bench.ParseAttachMode(o.attach)
	if err != nil {
		return nil, err
	}
	if o.sseURL == "" {
		o.sseURL = "http://" + o.addr + "/events?topic={topic}"
	}
	if o.publishURL == "" {
		o.publishURL = "http://" + o.addr + "/publish"
	}
	if o.publisher != "nats" && o.publisher != "http" {
		return nil, fmt.Errorf("--publisher %q is not nats or http", o.publisher)
	}
	switch {
	case o.timeout <= 0 || o.timeout > time.Hour:
		return nil, errors.New("--timeout must be in (0, 1h]")
	case o.sourceIPs < 1 || o.sourceIPs > 250:
		return nil, errors.New("--source-ips must be in [1, 250]")
	}
	if !o.allowRemote {
		targets := []string{o.sseURL}
		if o.publisher == "nats" {
			targets = append(targets, o.natsURL)
		} else {
			targets = append(targets, o.publishURL)
		}
		if err := bench.CheckLoopback(ctx, targets...); err != nil {
			return nil, err
		}
	}
	if _, err := bench.ParsePublishTemplate(o.template); err != nil {
		return nil, fmt.Errorf("--publish-template: %w", err)
	}
	var pids []int
	for p := range strings.SplitSeq(o.pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("--pid: %q is not a process id", p)
		}
		pids = append(pids, pid)
	}
	env := &bench.Env{
		Label: o.label,
		SSE: bench.SSEConfig{
			URL: o.sseURL, SourceIPs: o.sourceIPs, ConnectTimeout: o.connectTimeout,
			ReadBuffer: o.readBuffer, DialConcurrency: o.dialConc, Seq: seq,
			Attach: attach, ResumeURL: o.resumeURL,
		},
		Publish: bench.PublishConfig{
			Via: o.publisher, NATSURL: o.natsURL, Prefix: o.prefix, MaxInFlight: o.maxInFlight,
			HTTP: bench.HTTPPublishConfig{
				URL: o.publishURL, Token: o.token, Headers: o.headers, Template: o.template, Workers: o.workers,
			},
		},
		Procs:   bench.Procs{PIDs: pids},
		Timeout: o.timeout,
		Drain:   o.drain,
	}
	if env.Procs.Enabled() {
		if _, err := env.Procs.CPUSeconds(); err != nil {
			return nil, fmt.Errorf("--pid: %w", err)
		}
	}
	if !o.quiet {
		env.Progress = stderr
	}
	return env, nil
}

// write saves results to --out and draws --chart.
func (o *options) write(results []any) error {
	if o.out != "" {
		if err := bench.WriteResults(o.out, results, o.appendOut); err != nil {
			return err
		}
	}
	if o.chart == "" {
		return nil
	}
	var pts []bench.ChartPoint
	if o.out != "" {
		p, err := bench.ReadChartPoints(o.out)
		if err != nil {
			return err
		}
		pts = p
	} else {
		b, err := json.Marshal(results)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &pts); err != nil {
			return err
		}
	}
	return writeChartFile(o.chart, pts, bench.ChartOptions{Goals: true})
}

func writeChartFile(path string, pts []bench.ChartPoint, co bench.ChartOptions) error {
	var b bytes.Buffer
	if err := bench.WriteChart(&b, pts, co); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func chartCmd(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("jetsse-bench chart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "chart.svg", "SVG file to write")
	title := fs.String("title", "", "chart title")
	goals := fs.Bool("goals", true, "draw DESIGN.md's goals (3 µs per delivery, 16 KiB per session)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: jetsse-bench chart [flags] results.json [more.json ...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("chart needs at least one result file")
	}
	pts, err := bench.ReadChartPoints(fs.Args()...)
	if err != nil {
		return err
	}
	return writeChartFile(*out, pts, bench.ChartOptions{Title: *title, Goals: *goals})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// intList is a comma-separated list of positive integers.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(s string) error {
	var out intList
	for p := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(p, "_", "")))
		if err != nil || v <= 0 {
			return fmt.Errorf("%q is not a positive integer", p)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

// floatList is a comma-separated list of rates (0 or "max": maximum).
type floatList []float64

func (l *floatList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (l *floatList) Set(s string) error {
	var out floatList
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "max" {
			out = append(out, 0)
			continue
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("%q is not a rate (events/s, or 0 or max for the maximum)", p)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

func intListOf(s string) intList {
	var l intList
	if err := l.Set(s); err != nil {
		panic(err)
	}
	return l
}
