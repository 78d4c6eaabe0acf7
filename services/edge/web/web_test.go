package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jetsse/jetsse/services/edge/web"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestAssets: the page, the helper and everything the pages reference are
// served with types a browser accepts under nosniff (a module script must
// be JavaScript).
func TestAssets(t *testing.T) {
	h := web.Handler()
	for path, typ := range map[string]string{
		"/":                  "text/html",
		"/jetsse.js":         "text/javascript",
		"/assets/demo.js":    "text/javascript",
		"/assets/demo.css":   "text/css",
		"/assets/plain.html": "text/html",
	} {
		res, body := get(t, h, path)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), typ) {
			t.Errorf("GET %s: %d %q, want 200 %s", path, res.StatusCode, res.Header.Get("Content-Type"), typ)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || body == "" {
			t.Errorf("GET %s: nosniff %q, %d bytes", path, res.Header.Get("X-Content-Type-Options"), len(body))
		}
		if strings.HasSuffix(path, ".html") || path == "/" {
			for _, m := range regexp.MustCompile(`(?:src|href)="(/[^"?#]*)`).FindAllStringSubmatch(body, -1) {
				if res, _ := get(t, h, m[1]); res.StatusCode != http.StatusOK {
					t.Errorf("%s references %s, which answers %d", path, m[1], res.StatusCode)
				}
			}
		}
	}
	_, js := get(t, h, "/jetsse.js")
	// About 40% of it is comments, which keep it readable unminified.
	if len(js) > 20<<10 {
		t.Errorf("jetsse.js is %d bytes; keep it small", len(js))
	}
}

// TestHelperUnderNode runs the unit tests of jetsse.js (parser rules from
// web-platform-tests, headers, backoff, 204, takeover, gap) under Node.
func TestHelperUnderNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed; the jetsse.js tests need Node.js 20 or later (Debian: apt-get install nodejs)")
	}
	dir := t.TempDir()
	_, js := get(t, web.Handler(), "/jetsse.js")
	if err := os.WriteFile(filepath.Join(dir, "jetsse.mjs"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join("testdata", "jetsse.test.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jetsse.test.mjs"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "jetsse.test.mjs")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "pass") {
		t.Fatalf("node --test ran nothing:\n%s", out)
	}
}

// TestNoListingsNoEscapes: a directory, a dot element (however encoded) or
// a missing file is a 404, never a listing nor a file outside the route.
func TestNoListingsNoEscapes(t *testing.T) {
	h := web.Handler()
	for _, target := range []string{
		"/assets/", "/assets", "/assets/%2e%2e/jetsse.js", "/assets/%2E%2E/", "/assets/..%2fjetsse.js",
		"/assets/%2e/demo.js", "/assets//demo.js", "/assets/demo.js/", "/assets/..%5cjetsse.js", "/assets/nope.js",
		"/static/jetsse.js", "/%2e%2e/web.go",
	} {
		res, body := get(t, h, target)
		if res.StatusCode != http.StatusNotFound || strings.Contains(body, "<a href") || strings.Contains(body, "jetsse.js") {
			t.Errorf("GET %s: %d %q, want 404", target, res.StatusCode, body)
		}
	}
}
