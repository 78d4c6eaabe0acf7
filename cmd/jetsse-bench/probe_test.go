package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

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
// uni_sse and HTTP API that speaks what Centrifugo v6.9.1 wrote (see
// fakeCentrifugo): the real one is not part of CI.
func smokeProbe(t *testing.T, r app.Ready) {
	dir := installProbe(t)
	base := "http://" + r.HTTPAddr
	res := runProbe(t, dir, "--server", "jetsse", "--url", base, "--publish-token", r.PublishToken)
	checkProbe(t, res, true)
	res = runProbe(t, dir, "--server", "jetsse", "--url", base, "--publish-token", r.PublishToken, "--mode", "id-only")
	checkProbe(t, res, false)

	cf := httptest.NewServer(newFakeCentrifugo("smoke-key"))
	defer cf.Close()
	defer cf.CloseClientConnections()
	res = runProbe(t, dir, "--server", "centrifugo", "--url", cf.URL, "--api-key", "smoke-key")
	checkProbe(t, res, true)
}

// fakeCentrifugo is a stand-in for Centrifugo v6.9.1's uni_sse transport
// and HTTP publish API, for channels with history and forced recovery.
// Its frames are the ones the real server wrote (docs/benchmarks.md,
// "Configurations used"): a connect push, with the recovered publications
// and recovered:true when the client presented recover, the epoch and an
// offset; then a push per publication, the first one with the epoch.
type fakeCentrifugo struct {
	key string

	mu   sync.Mutex
	hist map[string][]json.RawMessage        // channel → data by offset - 1
	subs map[string]map[chan []byte]struct{} // channel → live streams
}

const fakeEpoch = "SmokeEpc"

func newFakeCentrifugo(key string) http.Handler {
	f := &fakeCentrifugo{key: key, hist: map[string][]json.RawMessage{}, subs: map[string]map[chan []byte]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/publish", f.publish)
	mux.HandleFunc("GET /connection/uni_sse", f.uniSSE)
	return mux
}

func (f *fakeCentrifugo) publish(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-API-Key") != f.key {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var req struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Channel == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.hist[req.Channel] = append(f.hist[req.Channel], req.Data)
	offset := len(f.hist[req.Channel])
	epoch := ""
	if offset == 1 {
		epoch = `,"epoch":"` + fakeEpoch + `"`
	}
	push := fmt.Appendf(nil, "data: {\"channel\":%q,\"pub\":{\"data\":%s,\"offset\":%d%s}}\n\n", req.Channel, req.Data, offset, epoch)
	for ch := range f.subs[req.Channel] {
		select {
		case ch <- push:
		default: // a stream that fell behind misses it, as no test expects
		}
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"result":{"offset":%d,"epoch":%q}}`, offset, fakeEpoch)
}

func (f *fakeCentrifugo) uniSSE(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Subs map[string]struct {
			Recover bool   `json:"recover"`
			Offset  int    `json:"offset"`
			Epoch   string `json:"epoch"`
		} `json:"subs"`
	}
	if err := json.Unmarshal([]byte(r.URL.Query().Get("cf_connect")), &req); err != nil || len(req.Subs) != 1 {
		http.Error(w, "bad cf_connect", http.StatusBadRequest)
		return
	}
	live := make(chan []byte, 1024)
	subs := map[string]any{}
	f.mu.Lock()
	var channel string
	for name, s := range req.Subs {
		channel = name
		hist := f.hist[name]
		sub := map[string]any{"recoverable": true, "epoch": fakeEpoch, "positioned": true}
		if s.Recover {
			sub["was_recovering"] = true
			if s.Epoch == fakeEpoch && s.Offset <= len(hist) {
				var pubs []map[string]any
				for i := s.Offset; i < len(hist); i++ {
					pubs = append(pubs, map[string]any{"data": hist[i], "offset": i + 1})
				}
				sub["publications"], sub["recovered"], sub["offset"] = pubs, true, s.Offset
			} else {
				sub["offset"] = len(hist)
			}
		} else if len(hist) > 0 {
			sub["offset"] = len(hist)
		}
		subs[name] = sub
	}
	if f.subs[channel] == nil {
		f.subs[channel] = map[chan []byte]struct{}{}
	}
	f.subs[channel][live] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs[channel], live)
		f.mu.Unlock()
	}()

	connect, err := json.Marshal(map[string]any{"connect": map[string]any{
		"client": "00000000-0000-0000-0000-000000000000", "version": "6.9.1 OSS", "subs": subs, "ping": 25,
		"session": "00000000-0000-0000-0000-000000000000",
	}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if _, err := fmt.Fprintf(w, "\ndata: %s\n\n", connect); err != nil || rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-live:
			if _, err := w.Write(b); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}
