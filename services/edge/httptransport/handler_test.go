package httptransport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/auth"

	"github.com/jetsse/jetsse/internal/edgetest"
	"github.com/jetsse/jetsse/services/edge"
	"github.com/jetsse/jetsse/services/edge/httptransport"
)

// startService runs the real service over an embedded JetStream until the
// test ends, with its Config adjusted by adjust (when set), and waits until
// it is ready.
func startService(t *testing.T, adjust func(*edge.Config)) (*edge.Edge, edgetest.Deps) {
	t.Helper()
	d := edgetest.Start(t)
	cfg := edge.Config{Store: d.Log, Live: d.Hub, Keys: d.Keys, NodeID: "test"}
	if adjust != nil {
		adjust(&cfg)
	}
	svc, err := edge.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	edgetest.Run(t, svc.Run)
	edgetest.Wait(t, "the service", svc.Started())
	if err := svc.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	return svc, d
}

type rig struct {
	svc  *edge.Edge
	deps edgetest.Deps
	cfg  httptransport.Config
}

// newRig wires the real service over an embedded JetStream.
func newRig(t *testing.T, httpCfg httptransport.Config) (*rig, http.Handler) {
	t.Helper()
	svc, deps := startService(t, nil)
	if httpCfg.Auth == nil {
		httpCfg.Auth = &httptransport.Auth{Mode: auth.ModeNone, Anonymous: auth.All(), PublishToken: "tok"}
	}
	httpCfg.Draining = svc.Draining
	return &rig{svc: svc, deps: deps, cfg: httpCfg}, httptransport.NewHandler(svc, edge.MakeEndpoints(svc), httpCfg)
}

func TestErrorsAreJSONWithTheRightStatus(t *testing.T) {
	_, h := newRig(t, httptransport.Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	cases := []struct {
		method, path string
		status       int
	}{
		{"GET", "/nope", 404},
		{"GET", "/metrics", 404}, // on the admin listener only
		{"DELETE", "/events?topic=a", 405},
		{"POST", "/events?topic=a", 405},
		{"GET", "/publish", 405},
		{"PUT", "/readyz", 405},
		{"GET", "/events", 400},
		{"POST", "/publish", 401},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.status || err != nil || body["error"] == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %v %v %q", c.method, c.path, resp.StatusCode, body, err, resp.Header.Get("Content-Type"))
		}
	}
}

func TestDrainingRefusesNewRequests(t *testing.T) {
	r, h := newRig(t, httptransport.Config{Heartbeat: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()

	// An open stream ends during the drain, with a retry line.
	resp, err := http.Get(srv.URL + "/events?topic=a")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	drained := make(chan error, 1)
	go func() { drained <- r.svc.Drain(context.Background(), 100*time.Millisecond) }()

	sc := bufio.NewScanner(resp.Body)
	retries := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "retry: ") {
			retries++
		}
	}
	if retries != 2 {
		t.Fatalf("saw %d retry lines, want the opening one and one at the drain", retries)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	// An EventSource is told to come back instead: a 503 would stop it.
	req, _ := http.NewRequest("GET", srv.URL+"/events?topic=a", nil)
	req.Header.Set("Accept", "text/event-stream")
	es, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(es.Body)
	es.Body.Close()
	if es.StatusCode != 200 || es.Header.Get("Content-Type") != "text/event-stream" || !strings.HasPrefix(string(body), "retry: ") {
		t.Errorf("EventSource while draining: %d %q %q", es.StatusCode, es.Header.Get("Content-Type"), body)
	}
	for _, path := range []string{"/events?topic=a", "/readyz"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || (path != "/readyz" && resp.Header.Get("Retry-After") == "") {
			t.Errorf("%s while draining: %d, Retry-After %q", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	resp2, _ := http.Get(srv.URL + "/healthz")
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Errorf("/healthz while draining: %d", resp2.StatusCode)
	}
}

func cookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == httptransport.CookieName || c.Name == httptransport.SecureCookieName {
			return c
		}
	}
	return nil
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Run("TLS makes it Secure", func(t *testing.T) {
		_, h := newRig(t, httptransport.Config{})
		srv := httptest.NewTLSServer(h)
		defer srv.Close()
		client := srv.Client()
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		resp, err := client.Get(srv.URL + "/events?topic=a")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c := cookieOf(resp)
		if c == nil || c.Name != httptransport.SecureCookieName || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
			t.Fatalf("cookie %+v", c)
		}
		if c.Value != resp.Header.Get(httptransport.SessionHeader) {
			t.Fatalf("cookie and header carry different tokens")
		}
	})
	// Behind a proxy that terminates TLS, X-Forwarded-Proto says how the
	// client connected, believed only from a --trusted-proxy peer.
	for _, tc := range []struct {
		name    string
		trusted string
		secure  bool
	}{
		{"X-Forwarded-Proto from a trusted proxy makes it Secure", "127.0.0.0/8", true},
		{"X-Forwarded-Proto from anyone else is ignored", "10.0.0.0/8", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxies, err := httptransport.ParseProxies(tc.trusted, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, h := newRig(t, httptransport.Config{Proxies: proxies})
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/events?topic=a", nil)
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c := cookieOf(resp)
			if c == nil || c.Secure != tc.secure || (c.Name == httptransport.SecureCookieName) != tc.secure {
				t.Fatalf("cookie %+v", c)
			}
		})
	}
	t.Run("SameSite=None is always Secure", func(t *testing.T) {
		_, h := newRig(t, httptransport.Config{CookieSameSite: http.SameSiteNoneMode})
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/events?topic=a")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c := cookieOf(resp); c == nil || !c.Secure || c.SameSite != http.SameSiteNoneMode {
			t.Fatalf("cookie %+v", c)
		}
	})
	t.Run("a session carried in the header leaves the cookie jar alone", func(t *testing.T) {
		_, h := newRig(t, httptransport.Config{})
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/events?topic=a")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		req, _ := http.NewRequest("GET", srv.URL+"/events?topic=a", nil)
		req.Header.Set(httptransport.SessionHeader, resp.Header.Get(httptransport.SessionHeader))
		resp2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp2.Body.Close()
		if c := cookieOf(resp2); c != nil {
			t.Fatalf("cookie set for a header session: %+v", c)
		}
		if resp2.Header.Get(httptransport.SessionHeader) == "" {
			t.Fatal("no Jetsse-Session header")
		}
	})
}

func TestCORS(t *testing.T) {
	_, h := newRig(t, httptransport.Config{CORSOrigins: []string{"https://app.example"}})
	srv := httptest.NewServer(h)
	defer srv.Close()

	pre, _ := http.NewRequest(http.MethodOptions, srv.URL+"/events?topic=a", nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	pre.Header.Set("Access-Control-Request-Headers", "last-event-id, jetsse-session")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hd := resp.Header
	if resp.StatusCode != 204 || hd.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		hd.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(hd.Get("Access-Control-Allow-Headers"), "Last-Event-ID") ||
		!strings.Contains(hd.Get("Access-Control-Allow-Headers"), httptransport.SessionHeader) {
		t.Fatalf("preflight: %d %v", resp.StatusCode, hd)
	}

	get, _ := http.NewRequest(http.MethodGet, srv.URL+"/healthz", nil)
	get.Header.Set("Origin", "https://app.example")
	resp, err = http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		resp.Header.Get("Access-Control-Expose-Headers") != httptransport.SessionHeader {
		t.Fatalf("allowed origin: %v", resp.Header)
	}

	get.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Fatalf("other origin allowed: %q", v)
	}
}

// TestReadyTellsAMissingStore: /readyz answers 503 the moment the stream or
// the session bucket is gone (here the edge is told to make them again only
// much later), not only once something else fails.
func TestReadyTellsAMissingStore(t *testing.T) {
	ctx := context.Background()
	for _, store := range []string{"EVENTS", "KV_jetsse_sessions"} {
		t.Run(store, func(t *testing.T) {
			svc, deps := startService(t, func(c *edge.Config) {
				c.StoreCheck, c.ChangeDelay = time.Hour, time.Hour
			})
			h := httptransport.NewHandler(svc, edge.MakeEndpoints(svc), httptransport.Config{})
			ready := func() int {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				return rec.Code
			}
			if got := ready(); got != http.StatusOK {
				t.Fatalf("/readyz %d before", got)
			}
			if err := deps.JS.DeleteStream(ctx, store); err != nil {
				t.Fatal(err)
			}
			if got := ready(); got != http.StatusServiceUnavailable {
				t.Fatalf("/readyz %d with %s deleted, want 503", got, store)
			}
		})
	}
}
