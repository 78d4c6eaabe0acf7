package httptransport

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/http/pprof"

	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/jetssev1"
)

// AdminConfig configures the routes of the admin listener (NewAdminHandler).
type AdminConfig struct {
	// Token is the bearer token that every route but GET /metrics requires.
	// Empty refuses every such request.
	Token string
	// Metrics serves GET /metrics, without a token: Prometheus scrapes it,
	// and the admin listener is private (loopback) unless the operator
	// says otherwise. nil: no metrics route.
	Metrics http.Handler
	// Ready reports whether the node can serve, and if not why; GET /readyz
	// says so with the reason (the public /readyz never does). nil: no
	// readiness route.
	Ready func(context.Context) error
	// Routes are more routes behind the token, by http.ServeMux pattern
	// ("GET /v1/sessions"): how the admin API joins the listener.
	Routes map[string]http.Handler
}

// AdminRealm is the realm of the admin listener's WWW-Authenticate
// challenge.
const AdminRealm = "jetsse-admin"

// NewAdminHandler returns the admin listener's routes:
//
//   - GET /metrics: Prometheus, no token;
//   - GET /readyz: 200 {"status":"ready"}, or 503 {"error":"<the reason>"};
//   - /debug/pprof/…: Go's profiles (net/http/pprof);
//   - the extra Routes.
//
// Every route but /metrics requires "Authorization: Bearer <Token>" (the
// scheme in any case; the token compared in constant time), else 401 with
// a WWW-Authenticate challenge. Errors are JSON ({"error": "…"}), 404 and
// 405 (with Allow) included. The handler is safe for concurrent use.
func NewAdminHandler(cfg AdminConfig) http.Handler {
	mux := http.NewServeMux()
	guarded := func(pattern string, h http.Handler) {
		mux.Handle(pattern, requireAdminToken(cfg.Token, h))
	}
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Ready != nil {
		guarded("GET /readyz", boundedReady(adminReady(cfg.Ready)))
	}
	guarded("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	guarded("GET /debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	guarded("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	guarded("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	guarded("POST /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	guarded("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	for pattern, h := range cfg.Routes {
		guarded(pattern, h)
	}
	mux.Handle("/", notFoundOrNotAllowed(mux))
	return mux
}

// requireAdminToken refuses requests without "Authorization: Bearer
// <token>" (any case for the scheme) with 401.
func requireAdminToken(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := auth.ParseBearer(r.Header.Get("Authorization"))
		if err != nil || token == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+AdminRealm+`"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid admin token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminReady answers the admin GET /readyz with the reason a node is not
// ready, which the public /readyz keeps to the log.
func adminReady(ready func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context()); err != nil {
			w.Header().Set("Retry-After", "2")
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append(appendWire(nil, &jetssev1.Status{Status: "ready"}), '\n'))
	})
}
