package httptransport_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jetsse/jetsse/services/edge/httptransport"
)

const adminToken = "admin-token-0123456789"

// lockedLog collects a logger's text output.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func adminDo(t *testing.T, base, method, path, authorization string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestAdminListener: /metrics is open; profiles, /readyz and added routes
// want the admin token (the Bearer scheme in any case); errors are JSON.
func TestAdminListener(t *testing.T) {
	ready := errors.New("not ready: the claims watch is not running")
	srv := httptest.NewServer(httptransport.NewAdminHandler(httptransport.AdminConfig{
		Token: adminToken,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "jetsse_connections 0\n")
		}),
		Ready: func(context.Context) error { return ready },
		Routes: map[string]http.Handler{
			"GET /v1/ping": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "pong") }),
		},
	}))
	defer srv.Close()

	if resp, body := adminDo(t, srv.URL, "GET", "/metrics", ""); resp.StatusCode != 200 || body != "jetsse_connections 0\n" {
		t.Errorf("GET /metrics without a token: %d %q", resp.StatusCode, body)
	}
	guarded := []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap?debug=1", "/debug/pprof/symbol", "/readyz", "/v1/ping"}
	for _, path := range guarded {
		for _, authz := range []string{"", "Bearer", "Bearer wrong-token-0123456789", "Bearer " + adminToken[:len(adminToken)-1],
			"Bearer " + adminToken + "x", "Basic " + adminToken, adminToken} {
			resp, body := adminDo(t, srv.URL, "GET", path, authz)
			if resp.StatusCode != http.StatusUnauthorized || !isJSONError(resp, body) ||
				resp.Header.Get("WWW-Authenticate") != `Bearer realm="jetsse-admin"` {
				t.Errorf("GET %s with Authorization %q: %d %v %q, want a JSON 401 with a challenge", path, authz, resp.StatusCode, resp.Header, body)
			}
		}
		for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
			want := http.StatusOK
			if path == "/readyz" {
				want = http.StatusServiceUnavailable
			}
			resp, body := adminDo(t, srv.URL, "GET", path, scheme+" "+adminToken)
			if resp.StatusCode != want {
				t.Errorf("GET %s with %q and the token: %d %q, want %d", path, scheme, resp.StatusCode, body, want)
			}
		}
	}
	// The admin /readyz says why.
	if resp, body := adminDo(t, srv.URL, "GET", "/readyz", "Bearer "+adminToken); !strings.Contains(body, "claims watch") || !isJSONError(resp, body) {
		t.Errorf("admin /readyz: %d %q, want the reason", resp.StatusCode, body)
	}
	ready = nil
	if resp, body := adminDo(t, srv.URL, "GET", "/readyz", "Bearer "+adminToken); resp.StatusCode != 200 || body != `{"status":"ready"}`+"\n" {
		t.Errorf("admin /readyz when ready: %d %q", resp.StatusCode, body)
	}
	// A profile, for real.
	if resp, body := adminDo(t, srv.URL, "GET", "/debug/pprof/goroutine?debug=1", "bearer "+adminToken); resp.StatusCode != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("goroutine profile: %d %.80q", resp.StatusCode, body)
	}
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/events", 404, ""},
		{"POST", "/metrics", 405, "GET"},
		{"DELETE", "/debug/pprof/cmdline", 405, "GET"},
	} {
		resp, body := adminDo(t, srv.URL, c.method, c.path, "Bearer "+adminToken)
		if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow || !isJSONError(resp, body) {
			t.Errorf("%s %s: %d Allow %q %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	}
}

// TestAdminWithoutTokenRefusesAll: an empty token opens nothing.
func TestAdminWithoutTokenRefusesAll(t *testing.T) {
	srv := httptest.NewServer(httptransport.NewAdminHandler(httptransport.AdminConfig{}))
	defer srv.Close()
	for _, authz := range []string{"", "Bearer ", "Bearer x"} {
		if resp, _ := adminDo(t, srv.URL, "GET", "/debug/pprof/", authz); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("empty token, Authorization %q: %d", authz, resp.StatusCode)
		}
	}
	if resp, _ := adminDo(t, srv.URL, "GET", "/metrics", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("no Metrics handler: GET /metrics %d", resp.StatusCode)
	}
}
