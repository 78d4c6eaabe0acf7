package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/bench"
	"github.com/jetsse/jetsse/cmd/jetsse/app"
	"github.com/jetsse/jetsse/internal/apptest"
)

// bench runs the command line with the server's addresses and returns the
// runs it wrote to its --out file, and what it printed to stderr.
func runBench(t *testing.T, r app.Ready, args ...string) ([]json.RawMessage, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "results.json")
	full := append([]string{args[0],
		"--addr", r.HTTPAddr, "--nats", r.NATSURL, "--publish-token", r.PublishToken,
		"--pid", strconv.Itoa(os.Getpid()), "--out", out, "--timeout", "30s", "--drain", "5s",
	}, args[1:]...)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), full, &stdout, &stderr); err != nil {
		t.Fatalf("jetsse-bench %s: %v\nstderr:\n%s", strings.Join(full, " "), err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var runs []json.RawMessage
	if err := json.Unmarshal(b, &runs); err != nil {
		t.Fatalf("results file: %v\n%s", err, b)
	}
	// Stdout holds the same runs, one indented object each.
	dec := json.NewDecoder(&stdout)
	for i := range runs {
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("stdout run %d: %v", i, err)
		}
	}
	t.Logf("jetsse-bench %s: %d runs\n%s", args[0], len(runs), stderr.String())
	return runs, stderr.String()
}

func decode[T any](t *testing.T, raw json.RawMessage) *T {
	t.Helper()
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSmoke runs every scenario with tiny counts against a real jetsse and
// checks what was delivered, not how fast.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a jetsse server")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the server's CPU and memory (--pid), which needs Linux's /proc")
	}
	r := apptest.Start(t, "bench-smoke-token")
	dir := t.TempDir()
	var files []string

	t.Run("fanout/nats", func(t *testing.T) { smokeFanoutNATS(t, r) })
	t.Run("fanout/http", func(t *testing.T) { smokeFanoutHTTP(t, r) })
	t.Run("fanout/seq-data", func(t *testing.T) { smokeFanoutSeqData(t, r) })
	t.Run("fanout/attach-first", func(t *testing.T) { smokeFanoutAttachFirst(t, r) })
	t.Run("resume/seq-data", func(t *testing.T) { smokeResumeSeqData(t, r) })
	t.Run("idle", func(t *testing.T) { files = append(files, smokeIdle(t, r, dir)) })
	t.Run("resume", func(t *testing.T) { smokeResume(t, r) })
	t.Run("storm", func(t *testing.T) { smokeStorm(t, r) })
	t.Run("sparse", func(t *testing.T) { smokeSparse(t, r) })
	t.Run("publish", func(t *testing.T) { smokePublish(t, r) })
	t.Run("chart", func(t *testing.T) { smokeChart(t, r, dir, files) })
	t.Run("floor", func(t *testing.T) { smokeFloor(t, r) })
	t.Run("probe", func(t *testing.T) { smokeProbe(t, r) })
}

// smokeFanoutNATS publishes over NATS at a fixed and at the maximum rate,
// with padded payloads, and checks every count, the latency summary, the
// server measures and the progress lines.
func smokeFanoutNATS(t *testing.T, r app.Ready) {
	runs, progress := runBench(t, r, "fanout", "--n", "3", "--k", "20", "--rate", "200,max", "--size", "100")
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2 (one per rate)", len(runs))
	}
	for i, raw := range runs {
		f := decode[bench.FanoutResult](t, raw)
		if f.Scenario != "fanout" || f.Params.N != 3 || f.Params.K != 20 || f.Label != "jetsse" {
			t.Errorf("run %d: header/params %+v %+v", i, f.Header, f.Params)
		}
		if f.Subscribers != 3 || f.Acked != 20 || f.Expected != 60 || f.Delivered != 60 {
			t.Errorf("run %d: subscribers %d acked %d expected %d delivered %d, want 3, 20, 60, 60",
				i, f.Subscribers, f.Acked, f.Expected, f.Delivered)
		}
		if f.Lost != 0 || f.Dup != 0 || f.Gaps != 0 || f.PublishFailed != 0 || !f.Complete {
			t.Errorf("run %d: lost %d dup %d gaps %d failed %d complete %v errors %v",
				i, f.Lost, f.Dup, f.Gaps, f.PublishFailed, f.Complete, f.Errors)
		}
		if f.Latency.Count != 60 || f.Latency.P99Ms <= 0 || f.Latency.MaxMs < f.Latency.P50Ms {
			t.Errorf("run %d: latency %+v", i, f.Latency)
		}
		if f.ServerCPUS == nil || f.CPUUsPerDelivery == nil || f.ServerRSSKiB == nil || *f.ServerRSSKiB == 0 {
			t.Errorf("run %d: server measures missing", i)
		}
	}
	if !strings.Contains(progress, "fanout N=3 rate=200/s") || !strings.Contains(progress, "fanout N=3 rate=max") {
		t.Errorf("no progress lines:\n%s", progress)
	}
}

// smokeFanoutHTTP publishes over HTTP.
func smokeFanoutHTTP(t *testing.T, r app.Ready) {
	runs, _ := runBench(t, r, "fanout", "--n", "3", "--k", "20", "--rate", "max", "--publisher", "http")
	f := decode[bench.FanoutResult](t, runs[0])
	if f.Target.Publisher != "http" || f.Delivered != 60 || f.Lost != 0 || f.Dup != 0 || !f.Complete {
		t.Errorf("publisher %s delivered %d lost %d dup %d complete %v errors %v",
			f.Target.Publisher, f.Delivered, f.Lost, f.Dup, f.Complete, f.Errors)
	}
}

// smokeFanoutSeqData counts losses and duplicates by the publisher counter.
func smokeFanoutSeqData(t *testing.T, r app.Ready) {
	runs, _ := runBench(t, r, "fanout", "--n", "2", "--k", "20", "--rate", "max", "--seq", "data")
	f := decode[bench.FanoutResult](t, runs[0])
	if f.Target.Seq != "data" || f.Delivered != 40 || f.Lost != 0 || f.Dup != 0 {
		t.Errorf("seq %s delivered %d lost %d dup %d", f.Target.Seq, f.Delivered, f.Lost, f.Dup)
	}
}

// smokeFanoutAttachFirst attaches at the first frame, as for servers without
// a session event, and checks the acknowledgement latency.
func smokeFanoutAttachFirst(t *testing.T, r app.Ready) {
	runs, _ := runBench(t, r, "fanout", "--n", "2", "--k", "20", "--rate", "max", "--seq", "data", "--attach", "first")
	f := decode[bench.FanoutResult](t, runs[0])
	if f.Target.Attach != "first" || f.Subscribers != 2 || f.Delivered != 40 || f.Lost != 0 || f.Dup != 0 {
		t.Errorf("attach %s subscribers %d delivered %d lost %d dup %d", f.Target.Attach, f.Subscribers, f.Delivered, f.Lost, f.Dup)
	}
	if f.AckLatency.Count != 40 || f.AckLatency.MaxMs > f.Latency.MaxMs {
		t.Errorf("ack latency %+v, send latency %+v", f.AckLatency, f.Latency)
	}
}

// smokeResumeSeqData resumes with --seq data through a resume URL that
// carries the last id.
func smokeResumeSeqData(t *testing.T, r app.Ready) {
	// Counters continue across the warm-up and the missed events, and
	// the resume URL carries the last id.
	runs, _ := runBench(t, r, "resume", "--m", "30", "--warmup", "5", "--repeat", "1", "--mode", "last-event-id",
		"--seq", "data", "--resume-url", "http://"+r.HTTPAddr+"/events?topic={topic}&lastEventId={last_id}")
	v := decode[bench.ResumeResult](t, runs[0])
	if v.Expected != 30 || v.Received != 30 || v.Lost != 0 || v.Dup != 0 || !v.Complete {
		t.Errorf("expected %d received %d lost %d dup %d complete %v errors %v",
			v.Expected, v.Received, v.Lost, v.Dup, v.Complete, v.Errors)
	}
}

// smokeIdle measures memory at two session counts and returns its result
// file.
func smokeIdle(t *testing.T, r app.Ready, dir string) string {
	runs, _ := runBench(t, r, "idle", "--n", "2,3", "--settle", "0")
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	for i, raw := range runs {
		v := decode[bench.IdleResult](t, raw)
		if v.Sessions != int64(v.Params.N) || v.RSSKiB == 0 || v.BaselineRSSKiB == 0 || !v.Complete {
			t.Errorf("run %d: %+v", i, v)
		}
	}
	return write(t, dir, "idle.json", runs)
}

// smokeResume runs every resume mode twice.
func smokeResume(t *testing.T, r app.Ready) {
	runs, _ := runBench(t, r, "resume", "--m", "50", "--warmup", "5", "--repeat", "2")
	if len(runs) != 4 {
		t.Fatalf("%d runs, want 4 (one per mode)", len(runs))
	}
	modes := map[string]bool{}
	for _, raw := range runs {
		v := decode[bench.ResumeResult](t, raw)
		mode := v.Params.Mode
		modes[mode] = true
		// Exactly once with the client's own position; at least once
		// from the session's stored position (events in flight when the
		// client went away may come again).
		exact := mode == "last-event-id" || mode == "id-only"
		if len(v.Samples) != 2 || v.Expected != 100 || v.Received != 100 || v.Lost != 0 || (exact && v.Dup != 0) || !v.Complete {
			t.Errorf("%s: samples %d expected %d received %d lost %d dup %d complete %v errors %v",
				mode, len(v.Samples), v.Expected, v.Received, v.Lost, v.Dup, v.Complete, v.Errors)
		}
		for _, s := range v.Samples {
			// Only a presented token resumes the session; with the
			// id alone the server starts a new one at that position.
			if s.Received != 50 || s.Resumed != (mode != "id-only") || s.CatchUpMs <= 0 || s.FirstEventMs > s.CatchUpMs {
				t.Errorf("%s: sample %+v", mode, s)
			}
		}
	}
	if len(modes) != 4 {
		t.Errorf("modes %v", modes)
	}
}

// smokeStorm drops and reconnects three sessions while publishing.
func smokeStorm(t *testing.T, r app.Ready) {
	runs, _ := runBench(t, r, "storm", "--n", "3", "--within", "300ms", "--rate", "50")
	checkStorm(t, decode[bench.StormResult](t, runs[0]))
}

// checkStorm checks that every session of a storm resumed and caught up,
// with nothing lost or repeated.
func checkStorm(t *testing.T, v *bench.StormResult) {
	t.Helper()
	if v.Sessions != 3 || v.Reconnected != 3 || v.NotResumed != 0 || !v.Complete {
		t.Errorf("sessions %d reconnected %d not resumed %d complete %v errors %v",
			v.Sessions, v.Reconnected, v.NotResumed, v.Complete, v.Errors)
	}
	if v.Lost != 0 || v.Dup != 0 || v.HTTPErrors != 0 || v.ConnErrors != 0 || v.Expected == 0 || v.Received != v.Expected {
		t.Errorf("expected %d received %d lost %d dup %d http errors %d connect errors %d",
			v.Expected, v.Received, v.Lost, v.Dup, v.HTTPErrors, v.ConnErrors)
	}
	if v.AllResumedS == nil || v.AllCaughtUpS == nil || v.CatchUpMs.N != 3 {
		t.Errorf("timings missing: %+v %+v %+v", v.AllResumedS, v.AllCaughtUpS, v.CatchUpMs)
	}
}

// smokeSparse catches up on a topic holding 1 in 100 events of the stream.
func smokeSparse(t *testing.T, r app.Ready) {
	runs, _ := runBench(t, r, "sparse", "--total", "500", "--every", "100", "--repeat", "2")
	v := decode[bench.SparseResult](t, runs[0])
	if v.Prefilled != 500 || v.SparseEvents != 5 || v.Received != 10 || v.Lost != 0 || v.Dup != 0 || !v.Complete {
		t.Errorf("prefilled %d sparse %d received %d lost %d dup %d complete %v errors %v",
			v.Prefilled, v.SparseEvents, v.Received, v.Lost, v.Dup, v.Complete, v.Errors)
	}
	if v.CatchUpMs.N != 2 || v.EventsPerS <= 0 || v.LastID-v.FirstID < 400 {
		t.Errorf("catch-up %+v events/s %g ids %d..%d", v.CatchUpMs, v.EventsPerS, v.FirstID, v.LastID)
	}
}

// smokePublish publishes along every path (HTTP one by one and in
// batches, NATS synchronous and asynchronous) and checks that the stream
// holds exactly what was acknowledged.
func smokePublish(t *testing.T, r app.Ready) {
	for _, c := range []struct {
		path string
		args []string
	}{
		{"http", []string{"--publisher", "http"}},
		{"http-batch", []string{"--publisher", "http", "--batch", "7"}},
		{"nats", []string{"--publisher", "nats"}},
		{"nats-async", []string{"--publisher", "nats", "--window", "16"}},
	} {
		runs, progress := runBench(t, r, append([]string{"publish", "--k", "100", "--size", "120", "--workers", "3", "--warmup", "10"}, c.args...)...)
		v := decode[bench.PublishResult](t, runs[0])
		if v.Scenario != "publish" || v.Path != c.path || v.Params.K != 100 || v.Params.Workers != 3 || v.Params.Size != 120 {
			t.Errorf("%s: header/params %+v %s %+v", c.path, v.Header, v.Path, v.Params)
		}
		if v.Sent != 100 || v.Accepted != 100 || v.Failed != 0 || !v.Complete || v.Errors != nil {
			t.Errorf("%s: sent %d accepted %d failed %d complete %v errors %v", c.path, v.Sent, v.Accepted, v.Failed, v.Complete, v.Errors)
		}
		wantRequests := uint64(100)
		if c.path == "http-batch" {
			wantRequests = 15 // 14 of 7 and one of 2
		}
		if v.Requests != wantRequests || v.Latency.Count != map[bool]uint64{true: 15, false: 100}[c.path == "http-batch"] || v.EventsPerS <= 0 {
			t.Errorf("%s: requests %d latency %+v events/s %g", c.path, v.Requests, v.Latency, v.EventsPerS)
		}
		if s := v.Stream; s == nil || !s.OK || s.OnTopic != 100 || s.DistinctIDs != 100 || s.SeqDelta < 100 {
			t.Errorf("%s: stream check %+v", c.path, s)
		}
		if v.ServerCPUS == nil || v.CPUUsPerEvent == nil || v.ServerRSSKiB == nil {
			t.Errorf("%s: server measures missing", c.path)
		}
		if !strings.Contains(progress, "publish "+c.path+" workers=3") {
			t.Errorf("%s: no progress line:\n%s", c.path, progress)
		}
	}
	// The floor: the cheapest HTTP endpoint, trusted on its answers.
	ctx, stop := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- floorServerCmd(ctx, []string{"--addr", "127.0.0.1:0"}, io.Discard, func(a string) { addrs <- a })
	}()
	floor := <-addrs
	runs, _ := runBench(t, r, "publish", "--k", "30", "--warmup", "0", "--publisher", "http", "--verify", "acks",
		"--label", "floor", "--publish-url", "http://"+floor+"/publish")
	if v := decode[bench.PublishResult](t, runs[0]); v.Accepted != 30 || !v.Complete || v.Label != "floor" {
		t.Errorf("floor: accepted %d complete %v label %s errors %v", v.Accepted, v.Complete, v.Label, v.Errors)
	}
	stop()
	if err := <-served; err != nil {
		t.Errorf("floor-server: %v", err)
	}
	// A peer is trusted on its acknowledgements.
	runs, _ = runBench(t, r, "publish", "--k", "20", "--warmup", "0", "--publisher", "http", "--verify", "acks")
	if v := decode[bench.PublishResult](t, runs[0]); v.Stream != nil || v.Accepted != 20 || !v.Complete {
		t.Errorf("--verify acks: stream %+v accepted %d complete %v", v.Stream, v.Accepted, v.Complete)
	}
}

// smokeChart draws charts from a run (--chart) and from result files (chart
// subcommand), the idle one among them.
func smokeChart(t *testing.T, r app.Ready, dir string, files []string) {
	runs, _ := runBench(t, r, "fanout", "--n", "2,4", "--k", "10", "--rate", "max", "--chart", filepath.Join(dir, "run.svg"))
	files = append(files, write(t, dir, "fanout.json", runs))
	svg := filepath.Join(dir, "chart.svg")
	var stderr bytes.Buffer
	if err := run(context.Background(), append([]string{"chart", "--out", svg}, files...), &stderr, &stderr); err != nil {
		t.Fatalf("chart: %v\n%s", err, stderr.String())
	}
	for _, p := range []string{svg, filepath.Join(dir, "run.svg")} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("<svg")) || !bytes.Contains(b, []byte("jetsse max")) {
			t.Errorf("%s is not the expected SVG:\n%.300s", p, b)
		}
	}
}

func write(t *testing.T, dir, name string, runs []json.RawMessage) string {
	t.Helper()
	b, err := json.Marshal(runs)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startFloor runs the floor subcommand in-process on random loopback ports,
// with extra flags, and stops it when the test ends.
func startFloor(t *testing.T, extra ...string) app.Ready {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dataDir := t.TempDir()
	ready := make(chan app.Ready, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- floorCmd(ctx, append([]string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0", "--nats-sync", "1s",
			"--publish-token", "floor-smoke-token"}, extra...),
			&stderr, func(httpAddr, natsURL string) {
				ready <- app.Ready{HTTPAddr: httpAddr, NATSURL: natsURL, PublishToken: "floor-smoke-token"}
			})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("floor: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("the floor did not stop within 10s of cancelling its context")
		}
	})
	select {
	case r := <-ready:
		return r
	case err := <-done:
		t.Fatalf("the floor ended before it was ready: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the floor not ready after 30s")
	}
	panic("unreachable")
}

// smokeFloor runs fanout against the raw-socket floor, as against jetsse,
// publishing over NATS and over HTTP, and checks that the floor writes
// jetsse's bytes.
func smokeFloor(t *testing.T, jetsse app.Ready) {
	r := startFloor(t)
	runs, _ := runBench(t, r, "fanout", "--n", "3", "--k", "20", "--rate", "200,max", "--label", "floor")
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2 (one per rate)", len(runs))
	}
	for i, raw := range runs {
		f := decode[bench.FanoutResult](t, raw)
		if f.Label != "floor" || f.Subscribers != 3 || f.Acked != 20 || f.Delivered != 60 || f.Lost != 0 || f.Dup != 0 || f.Gaps != 0 || !f.Complete {
			t.Errorf("run %d: label %s subscribers %d acked %d delivered %d lost %d dup %d gaps %d complete %v errors %v",
				i, f.Label, f.Subscribers, f.Acked, f.Delivered, f.Lost, f.Dup, f.Gaps, f.Complete, f.Errors)
		}
		if f.CPUUsPerDelivery == nil || f.Latency.Count != 60 {
			t.Errorf("run %d: cpu %v latency %+v", i, f.CPUUsPerDelivery, f.Latency)
		}
	}
	runs, _ = runBench(t, r, "fanout", "--n", "3", "--k", "20", "--rate", "max", "--label", "floor", "--publisher", "http")
	if f := decode[bench.FanoutResult](t, runs[0]); f.Target.Publisher != "http" || f.Acked != 20 || f.Delivered != 60 || f.Lost != 0 || f.Dup != 0 || !f.Complete {
		t.Errorf("over HTTP: publisher %s acked %d delivered %d lost %d dup %d complete %v errors %v",
			f.Target.Publisher, f.Acked, f.Delivered, f.Lost, f.Dup, f.Complete, f.Errors)
	}
	want := streamBytes(t, jetsse)
	if got := streamBytes(t, r); got != want {
		t.Errorf("the floor writes\n%q\njetsse writes\n%q", got, want)
	}

	// With a ring, a storm resumes against it as against jetsse.
	runs, _ = runBench(t, startFloor(t, "--ring", "1000"), "storm", "--n", "3", "--within", "300ms", "--rate", "50", "--label", "floor")
	checkStorm(t, decode[bench.StormResult](t, runs[0]))
}

// streamBytes subscribes to a fresh topic with a raw connection, publishes
// two events over NATS (one with a type, one with two data lines) and
// returns everything the server wrote, with what differs per connection or
// server (date, token, session id, retry value, sequences) masked.
func streamBytes(t *testing.T, r app.Ready) string {
	t.Helper()
	topic := bench.RunTopic("floor")
	conn, err := net.DialTimeout("tcp", r.HTTPAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /events?topic=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", topic, r.HTTPAddr)
	var got []byte
	readUntil := func(s string) {
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte(s)) {
			n, err := conn.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("reading until %q: %v\n%q", s, err, got)
			}
		}
	}
	readUntil("event: session\n")
	readUntil("\n\n")
	nc, err := nats.Connect(r.NATSURL)
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
	m := nats.NewMsg("events." + topic)
	m.Header.Set("Sse-Event", "tick")
	m.Data = []byte(`{"n":1}`)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "events."+topic, []byte("two\nlines")); err != nil {
		t.Fatal(err)
	}
	readUntil("data: lines\n\n")
	for _, re := range []struct{ re, to string }{
		{`Date: [^\r]*`, "Date: D"},
		{`(Jetsse-Session: |jetsse_session=)[A-Za-z0-9_-]+`, "${1}T"},
		{`"session":"[0-9a-f]+"`, `"session":"S"`},
		{`retry: \d+`, "retry: R"},
		{`id: \d+`, "id: N"},
	} {
		got = regexp.MustCompile(re.re).ReplaceAll(got, []byte(re.to))
	}
	return string(got)
}
