package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/fakecentrifugo"
	"github.com/jetsse/jetsse/internal/apptest"
)

// probe runs the command line with small counts and returns its result.
func probeRun(t *testing.T, args ...string) *result {
	t.Helper()
	args = append([]string{"-m", "50", "-warmup", "3", "-repeat", "2", "-timeout", "20s"}, args...)
	var stdout, stderr bytes.Buffer
	ok, err := run(context.Background(), args, &stdout, &stderr)
	t.Logf("gosse %v:\n%s", args, stderr.String())
	if err != nil || !ok {
		t.Fatalf("gosse %v: ok %v, %v\n%s", args, ok, err, stdout.String())
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("output: %v\n%s", err, stdout.String())
	}
	return &r
}

func check(t *testing.T, r *result, resumed bool) {
	t.Helper()
	if r.Expected != 100 || r.Received != 100 || r.Lost != 0 || r.Dup != 0 || r.Unexpected != 0 || !r.Complete || r.NotResumed != 0 {
		t.Errorf("%s: expected %d received %d lost %d dup %d unexpected %d complete %v not resumed %d",
			r.Label, r.Expected, r.Received, r.Lost, r.Dup, r.Unexpected, r.Complete, r.NotResumed)
	}
	if r.CatchUpMs == nil || r.CatchUpMs.N != 2 || r.ClientFloorMs == nil || r.ClientFloorMs.N != 2 || len(r.Samples) != 2 {
		t.Errorf("%s: catch-up %+v client floor %+v samples %d", r.Label, r.CatchUpMs, r.ClientFloorMs, len(r.Samples))
	}
	for _, s := range r.Samples {
		if s.Resumed != resumed || s.Received != 50 || s.Undecodable != 0 || *s.FirstEventMs > *s.CatchUpMs {
			t.Errorf("%s: sample %+v, want resumed %v", r.Label, s, resumed)
		}
	}
}

// TestProbe runs the probe against jetsse (both modes, with and without
// decoding the data) and against a stand-in for Centrifugo's uni_sse and
// publish API (internal/fakecentrifugo): the real one is not part of CI.
func TestProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a jetsse server")
	}
	j := apptest.Start(t, "probe-smoke-token")
	base := "http://" + j.HTTPAddr
	check(t, probeRun(t, "-server", "jetsse", "-url", base, "-publish-token", j.PublishToken), true)
	check(t, probeRun(t, "-server", "jetsse", "-url", base, "-publish-token", j.PublishToken, "-mode", "id-only", "-decode-data"), false)

	cf := httptest.NewServer(fakecentrifugo.New("smoke-key"))
	defer cf.Close()
	defer cf.CloseClientConnections()
	check(t, probeRun(t, "-server", "centrifugo", "-url", cf.URL, "-api-key", "smoke-key", "-decode-data"), true)
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-server", "mercure"},
		{"-server", "jetsse", "-mode", "cookie"},
		{"-server", "jetsse", "-m", "0"},
		{"-server", "jetsse", "-timeout", "0s"},
	} {
		var out bytes.Buffer
		if _, err := run(context.Background(), args, &out, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
