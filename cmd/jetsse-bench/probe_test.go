package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/fakecentrifugo"
	"github.com/jetsse/jetsse/cmd/jetsse/app"
)

// probeResult is what probe/resume.mjs prints.
type probeResult struct {
	Label         string           `json:"label"`
	Server        string           `json:"server"`
	Client        string           `json:"client"`
	CatchUpMs     *struct{ N int } `json:"catch_up_ms"`
	ClientFloorMs *struct{ N int } `json:"client_floor_ms"`
	Expected      int              `json:"expected"`
	Received      int              `json:"received"`
	Lost          int              `json:"lost"`
	Dup           int              `json:"dup"`
	Unexpected    int              `json:"unexpected"`
	NotResumed    int              `json:"not_resumed"`
	Complete      bool             `json:"complete"`
	Samples       []struct {
		Resumed  bool `json:"resumed"`
		Received int  `json:"received"`
	} `json:"samples"`
}

// installProbe copies the resume probe to a temporary directory and
// installs its locked dependencies there with npm ci.
func installProbe(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: the resume probe needs Node.js 20 or later and npm (Debian: apt-get install nodejs npm; .ci/run installs them)", tool)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "resume.mjs"} {
		b, err := os.ReadFile(filepath.Join("probe", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	return dir
}

// runProbe runs the probe with small counts and returns its result.
func runProbe(t *testing.T, dir string, args ...string) *probeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"resume.mjs", "--m", "50", "--warmup", "3", "--repeat", "2", "--jit-warmup", "1", "--timeout", "20"}, args...)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("node %v:\n%s", args, stderr.String())
	if err != nil {
		t.Fatalf("node %v: %v\nstdout:\n%s", args, err, stdout.String())
	}
	var r probeResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("probe output: %v\n%s", err, stdout.String())
	}
	return &r
}

// checkProbe checks that every missed event came exactly once, for each
// of the 2 samples of 50.
func checkProbe(t *testing.T, r *probeResult, resumed bool) {
	t.Helper()
	if r.Expected != 100 || r.Received != 100 || r.Lost != 0 || r.Dup != 0 || r.Unexpected != 0 || !r.Complete || r.NotResumed != 0 {
		t.Errorf("%s: expected %d received %d lost %d dup %d unexpected %d complete %v not resumed %d",
			r.Label, r.Expected, r.Received, r.Lost, r.Dup, r.Unexpected, r.Complete, r.NotResumed)
	}
	if r.CatchUpMs == nil || r.CatchUpMs.N != 2 || r.ClientFloorMs == nil || r.ClientFloorMs.N != 2 || len(r.Samples) != 2 {
		t.Errorf("%s: catch-up %+v client floor %+v samples %d", r.Label, r.CatchUpMs, r.ClientFloorMs, len(r.Samples))
	}
	for _, s := range r.Samples {
		if s.Resumed != resumed || s.Received != 50 {
			t.Errorf("%s: sample %+v, want resumed %v", r.Label, s, resumed)
		}
	}
}

// smokeProbe runs the independent resume probe (Node.js, npm eventsource)
// against jetsse in both modes, and against a stand-in for Centrifugo's
// uni_sse and HTTP API that speaks what Centrifugo v6.9.1 wrote
// (internal/fakecentrifugo): the real one is not part of CI.
func smokeProbe(t *testing.T, r app.Ready) {
	dir := installProbe(t)
	base := "http://" + r.HTTPAddr
	res := runProbe(t, dir, "--server", "jetsse", "--url", base, "--publish-token", r.PublishToken)
	checkProbe(t, res, true)
	res = runProbe(t, dir, "--server", "jetsse", "--url", base, "--publish-token", r.PublishToken, "--mode", "id-only")
	checkProbe(t, res, false)

	cf := httptest.NewServer(fakecentrifugo.New("smoke-key"))
	defer cf.Close()
	defer cf.CloseClientConnections()
	res = runProbe(t, dir, "--server", "centrifugo", "--url", cf.URL, "--api-key", "smoke-key")
	checkProbe(t, res, true)
}
