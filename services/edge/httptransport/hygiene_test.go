package httptransport_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetsse/jetsse/services/edge"
	"github.com/jetsse/jetsse/services/edge/httptransport"
	"github.com/jetsse/jetsse/services/edge/web"
)

// countingService counts the Subscribe calls that reach the real service.
type countingService struct {
	edge.Service
	subscribes atomic.Int64
}

func (c *countingService) Subscribe(ctx context.Context, req edge.SubscribeRequest) (*edge.Stream, error) {
	c.subscribes.Add(1)
	return c.Service.Subscribe(ctx, req)
}

// rawRequest writes request line and headers to addr as they are (Go's
// client would clean the path) and reads the response.
func rawRequest(t *testing.T, addr, method, target string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n", method, target); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// isJSONError reports whether a response is the API's JSON error.
func isJSONError(resp *http.Response, body string) bool {
	var e struct {
		Error string `json:"error"`
	}
	return resp.Header.Get("Content-Type") == "application/json" && json.Unmarshal([]byte(body), &e) == nil && e.Error != ""
}

// TestHeadEventsOpensNoSession: HEAD /events is refused with 405 and
// Allow: GET before the service is asked for a stream (net/http would
// otherwise route it to GET's handler, which opens a session); GET still
// reaches the service, so the count can move.
func TestHeadEventsOpensNoSession(t *testing.T) {
	svc, _ := startService(t, nil)
	spy := &countingService{Service: svc}
	srv := httptest.NewServer(httptransport.NewHandler(spy, edge.MakeEndpoints(spy), httptransport.Config{Draining: svc.Draining}))
	defer srv.Close()

	for _, accept := range []string{"", "text/event-stream"} {
		req, _ := http.NewRequest(http.MethodHead, srv.URL+"/events?topic=a", nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" ||
			resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("HEAD /events (Accept %q): %d %v", accept, resp.StatusCode, resp.Header)
		}
	}
	if n := spy.subscribes.Load(); n != 0 {
		t.Fatalf("HEAD /events reached Subscribe %d times", n)
	}
	resp, err := http.Get(srv.URL + "/events?topic=a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || spy.subscribes.Load() != 1 {
		t.Fatalf("GET /events: %d, %d subscribes", resp.StatusCode, spy.subscribes.Load())
	}
	// A HEAD elsewhere keeps GET's answer.
	for _, path := range []string{"/healthz", "/readyz", "/jetsse.js"} {
		resp, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if path == "/jetsse.js" {
			continue // no Web handler in this rig: 404
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s: %d", path, resp.StatusCode)
		}
	}
}

// TestWrongMethodsAreJSON405: a path known for other methods answers 405
// with Allow and a JSON error, an unknown one a JSON 404.
func TestWrongMethodsAreJSON405(t *testing.T) {
	_, h := newRig(t, httptransport.Config{Web: web.Handler()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, c := range []struct {
		method, target string
		status         int
		allow          string
	}{
		{"POST", "/events", 405, "GET"},
		{"PUT", "/events?topic=a", 405, "GET"},
		{"OPTIONS", "/events", 405, "GET"},
		{"GET", "/publish", 405, "POST"},
		{"DELETE", "/publish", 405, "POST"},
		{"POST", "/healthz", 405, "GET"},
		{"POST", "/jetsse.js", 405, "GET"},
		{"POST", "/assets/demo.js", 405, "GET"},
		{"POST", "/nope", 404, ""},
		{"GET", "/metrics", 404, ""},
		{"GET", "/debug/pprof/", 404, ""},
	} {
		resp, body := rawRequest(t, addr, c.method, c.target)
		if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow || !isJSONError(resp, body) {
			t.Errorf("%s %s: %d Allow %q %q %q, want %d Allow %q and a JSON error",
				c.method, c.target, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), body, c.status, c.allow)
		}
	}
}

// TestAssetsListNothingAndStayInside: no directory is listed, no path
// leaves the assets (however its dots and slashes are encoded), and every
// refusal is the JSON error; the assets themselves are still served.
func TestAssetsListNothingAndStayInside(t *testing.T) {
	_, h := newRig(t, httptransport.Config{Web: web.Handler()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, target := range []string{
		"/assets/",
		"/assets/%2e%2e/jetsse.js",
		"/assets/%2E%2E/",
		"/assets/%2e%2e/%2e%2e/etc/passwd",
		"/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/assets/..%2fjetsse.js",
		"/assets/..%2f..%2fgo.mod",
		"/assets/%2e/demo.js",
		"/assets/demo.js/",
		"/assets/demo.js%2f",
		"/assets/..%5cjetsse.js",
		"/assets/nope.js",
		"/index.html",
	} {
		resp, body := rawRequest(t, addr, "GET", target)
		if resp.StatusCode != http.StatusNotFound || !isJSONError(resp, body) {
			t.Errorf("GET %s: %d %q %q, want a JSON 404", target, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if strings.Contains(body, "jetsse.js") || strings.Contains(body, "<a href") || strings.Contains(body, "root:") {
			t.Errorf("GET %s: the body shows files: %q", target, body)
		}
	}
	// Unencoded dots are cleaned by the router: a redirect to a path that
	// is itself routed, never a file outside.
	for _, target := range []string{"/assets/../jetsse.js", "/assets/../../etc/passwd", "/assets/./demo.js"} {
		resp, body := rawRequest(t, addr, "GET", target)
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || strings.Contains(loc, "..") {
			t.Errorf("GET %s: %d Location %q %q, want a redirect to a clean path", target, resp.StatusCode, loc, body)
		}
	}
	for _, target := range []string{"/", "/jetsse.js", "/assets/demo.js", "/assets/demo.css", "/assets/plain.html"} {
		if resp, body := rawRequest(t, addr, "GET", target); resp.StatusCode != http.StatusOK || body == "" {
			t.Errorf("GET %s: %d, %d bytes", target, resp.StatusCode, len(body))
		}
	}
	// ServeContent's own refusals (a range past the end) are JSON too.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/jetsse.js", nil)
	req.Header.Set("Range", "bytes=99999999-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || !isJSONError(resp, string(b)) {
		t.Errorf("unsatisfiable range: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}

// TestReadyzSaysNoMoreThanNotReady: the public /readyz of a node that
// cannot serve says "not ready" (with Retry-After) and nothing of why;
// the reason is logged once, not at every probe, and the admin /readyz
// gives it to the admin token's holder.
func TestReadyzSaysNoMoreThanNotReady(t *testing.T) {
	svc, deps := startService(t, func(c *edge.Config) {
		c.StoreCheck, c.ChangeDelay = time.Hour, time.Hour
	})
	var logs lockedLog
	h := httptransport.NewHandler(svc, edge.MakeEndpoints(svc), httptransport.Config{Logger: logs.logger()})
	admin := httptransport.NewAdminHandler(httptransport.AdminConfig{Token: adminToken, Ready: svc.Ready})
	if err := deps.JS.DeleteKeyValue(context.Background(), "jetsse_sessions"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != `{"error":"not ready"}`+"\n" ||
			rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("public /readyz: %d %q %v", rec.Code, rec.Body, rec.Header())
		}
	}
	if n := strings.Count(logs.String(), "not ready"); n != 1 {
		t.Errorf("the reason was logged %d times over 3 probes, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "session bucket") {
		t.Errorf("the log does not say why:\n%s", logs.String())
	}
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "session bucket") {
		t.Errorf("admin /readyz: %d %q, want 503 with the reason", rec.Code, rec.Body)
	}
}

// TestReadyzWhileDrainingSaysNotReady: draining is not ready either, in
// the same words.
func TestReadyzWhileDrainingSaysNotReady(t *testing.T) {
	r, h := newRig(t, httptransport.Config{})
	if err := r.svc.Drain(context.Background(), time.Millisecond); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != `{"error":"not ready"}`+"\n" {
		t.Fatalf("/readyz while draining: %d %q", rec.Code, rec.Body)
	}
}
