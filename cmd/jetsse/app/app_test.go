package app

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v3"
)

// run runs the command line in-process and returns what it wrote.
func runCLI(t *testing.T, opts Options, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	opts.Stdout, opts.Stderr = &o, &e
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = Run(ctx, args, opts)
	return o.String(), e.String(), err
}

func TestHelpSucceedsForEveryCommand(t *testing.T) {
	cmds := []string{""}
	for name := range FlagSets() {
		cmds = append(cmds, name)
	}
	for _, cmd := range cmds {
		for _, h := range []string{"-h", "--help", "-help"} {
			args := []string{h}
			if cmd != "" {
				args = []string{cmd, h}
			}
			out, errOut, err := runCLI(t, Options{}, args...)
			if err != nil {
				t.Errorf("jetsse %s: %v (cmd/jetsse exits non-zero)", strings.Join(args, " "), err)
			}
			if !strings.Contains(out, "USAGE") || errOut != "" {
				t.Errorf("jetsse %s: the usage is not on stdout alone\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
			}
		}
	}
	viaHelp, _, err := runCLI(t, Options{}, "help", "serve")
	direct, _, _ := runCLI(t, Options{}, "serve", "-h")
	if err != nil || viaHelp != direct {
		t.Errorf("`jetsse help serve` (%v) differs from `jetsse serve -h`:\n%s", err, viaHelp)
	}
}

func TestHelpNamesTheEnvironment(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"serve", "-h"}} {
		out, _, _ := runCLI(t, Options{}, args...)
		if !strings.Contains(out, "JETSSE_HTTP_ADDR") || !strings.Contains(out, "--http-addr") {
			t.Errorf("jetsse %s does not say that JETSSE_HTTP_ADDR sets --http-addr:\n%s", strings.Join(args, " "), out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"serve", "--no-such-flag"},
		{"serve", "--max-bytes=lots"},
		{"serve", "--lite", "false"},
		{"version", "extra"},
		{"health", "--url"},
	} {
		out, _, err := runCLI(t, Options{}, args...)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("jetsse %q: err = %v, want ErrUsage (exit 2)", args, err)
		}
		if out != "" {
			t.Errorf("jetsse %q wrote to stdout:\n%s", args, out)
		}
	}
}

// TestEnvVar sets every serve flag through the variable EnvVar names (to
// the flag's own default, which parses back, or a word) and checks that ff, as serve
// uses it, set each one: the names the help and the deployment files use
// are the ones jetsse reads.
func TestEnvVar(t *testing.T) {
	if got := EnvVar("new-sessions-per-ip-per-second"); got != "JETSSE_NEW_SESSIONS_PER_IP_PER_SECOND" {
		t.Errorf("EnvVar = %q", got)
	}
	fs := FlagSets()["serve"]
	fs.VisitAll(func(f *flag.Flag) {
		v := f.DefValue
		if v == "" {
			v = "x" // ff ignores empty variables
		}
		t.Setenv(EnvVar(f.Name), v)
	})
	t.Setenv(EnvVar("max-bytes"), "64MiB")
	if err := ff.Parse(fs, nil, serveParseOptions()...); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if !set[f.Name] {
			t.Errorf("%s did not set --%s", EnvVar(f.Name), f.Name)
		}
	})
	if got := fs.Lookup("max-bytes").Value.String(); got != "64MiB" {
		t.Errorf("%s=64MiB gave --max-bytes %s", EnvVar("max-bytes"), got)
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCLI(t, Options{}, "version")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "jetsse ") || len(lines[0]) <= len("jetsse ") {
		t.Errorf("first line %q does not name a version", lines[0])
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "go1.") || !strings.HasSuffix(last, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("last line %q is not the Go version and platform", last)
	}
	out, _, _ = runCLI(t, Options{Version: "1.2.3"}, "version")
	if !strings.HasPrefix(out, "jetsse 1.2.3\n") {
		t.Errorf("with Options.Version 1.2.3: %q", out)
	}
}

func TestHealth(t *testing.T) {
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.Redirect(w, r, "/readyz", http.StatusFound)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":"not ready"}`))
	}))
	defer srv.Close()

	status = http.StatusOK
	if _, _, err := runCLI(t, Options{}, "health", "--url", srv.URL+"/readyz"); err != nil {
		t.Errorf("200: %v", err)
	}
	status = http.StatusServiceUnavailable
	_, _, err := runCLI(t, Options{}, "health", "--url", srv.URL+"/readyz")
	if err == nil || errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: err = %v, want one naming the status (exit 1)", err)
	}
	status = http.StatusOK
	if _, _, err := runCLI(t, Options{}, "health", "--url", srv.URL+"/elsewhere"); err == nil {
		t.Error("a redirect to a 200 counted as healthy")
	}
	srv.Close()
	if _, _, err := runCLI(t, Options{}, "health", "--url", srv.URL+"/readyz", "--timeout", "1s"); err == nil || errors.Is(err, ErrUsage) {
		t.Errorf("nothing listening: err = %v, want a failure (exit 1)", err)
	}
	if def := FlagSets()["health"].Lookup("url").DefValue; def != "http://127.0.0.1:8080/readyz" {
		t.Errorf("health's default --url is %s, not serve's default public /readyz", def)
	}
}

// TestBadSubjectsAndNodeIDs: prefixes that are not literal subjects, a
// lifecycle prefix inside the event stream, and node IDs that would break
// claims are refused before anything starts.
func TestBadSubjectsAndNodeIDs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--lifecycle-prefix", "a..b"}, "--lifecycle-prefix"},
		{[]string{"--lifecycle-prefix", "sessions.>"}, "--lifecycle-prefix"},
		{[]string{"--lifecycle-prefix", "events.sessions"}, "under --subject-prefix"},
		{[]string{"--lifecycle-prefix", "events"}, "under --subject-prefix"},
		{[]string{"--subject-prefix", "ev ents"}, "--subject-prefix"},
		{[]string{"--node-id", "a/b"}, "--node-id"},
	} {
		args := append([]string{"serve", "--data-dir", t.TempDir(), "--nats-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, tc.args...)
		_, _, err := runCLI(t, Options{}, args...)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("jetsse %q: err = %v, want one naming %s", tc.args, err, tc.says)
		}
	}
}
