package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/bench"
)

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
