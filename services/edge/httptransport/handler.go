// Package httptransport serves the edge service (services/edge) over HTTP:
// the routes, the JSON of the API (pkg/jetssev1, protojson with proto field
// names), CORS, the event stream as text/event-stream with its control
// events (session, gap, takeover) and end-of-stream rules, and the pooled
// writer (Lite) that serves idle live streams without a goroutine each.
// The service reports what happened as values; this package says it on the
// wire. docs/protocol.md is the contract.
package httptransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"
	"google.golang.org/protobuf/proto"

	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/services/edge"
)

// Names on the wire.
const (
	CookieName = "jetsse_session"
	// SecureCookieName is the session cookie's name when the client
	// connected over TLS: the __Host- prefix makes browsers insist on
	// Secure, Path=/ and no Domain, so no other site or plain-HTTP page can
	// plant it.
	SecureCookieName = "__Host-jetsse_session"
	SessionHeader    = "Jetsse-Session"
	// NewSessionToken, sent as the Jetsse-Session header, asks for a new
	// session carried by the header only (no cookie is set).
	NewSessionToken = "new"
)

// Config configures the HTTP transport; zero durations and sizes take the
// defaults of internal/defaults.
type Config struct {
	// Auth authenticates subscribers and publishers (nil: anonymous
	// subscribers may read every topic, and no one may publish).
	Auth *Auth
	// Proxies are the peers whose forwarding headers are believed (client
	// address for the per-client limits, TLS for the cookie).
	Proxies      *Proxies
	Heartbeat    time.Duration // comment interval while idle
	WriteTimeout time.Duration // per write to a client
	MaxBody      int64         // POST /publish body limit
	// MaxHeaderBytes bounds a request's line and headers (431 over it);
	// 0 for no check here (net/http's own bound still holds).
	MaxHeaderBytes int
	// OnLimit, if set, is told the name of each transport limit a request
	// hit ("header_bytes", "body_bytes").
	OnLimit func(limit string)
	Retry   time.Duration // base reconnect delay, ±50% jitter
	Logger  *slog.Logger
	// Draining reports whether the node is draining (new requests: 503).
	Draining func() bool
	// Web serves the browser assets (GET /, GET /jetsse.js, GET /assets/…);
	// nil serves none. Its error answers are made JSON errors.
	Web http.Handler
	// CORSOrigins lists the exact origins allowed to use the edge from a
	// browser with credentials.
	CORSOrigins []string
	// CookieSameSite is the session cookie's SameSite attribute (default
	// Lax). SameSite=None (for cross-site pages) always sets Secure.
	CookieSameSite http.SameSite
	// Lite, if set, serves live plain-HTTP/1.x streams without a goroutine
	// per connection.
	Lite *Lite
}

func (c *Config) setDefaults() {
	if c.Heartbeat <= 0 {
		c.Heartbeat = defaults.Heartbeat
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaults.WriteTimeout
	}
	if c.MaxBody <= 0 {
		c.MaxBody = defaults.MaxBody
	}
	if c.Retry <= 0 {
		c.Retry = defaults.Retry
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Draining == nil {
		c.Draining = func() bool { return false }
	}
	if c.CookieSameSite == 0 {
		c.CookieSameSite = http.SameSiteLaxMode
	}
	if c.OnLimit == nil {
		c.OnLimit = func(string) {}
	}
	if c.Auth == nil {
		c.Auth = &Auth{Mode: auth.ModeNone, Anonymous: auth.All()}
	}
}

// NewHandler returns the edge's public routes: GET /events (the event
// stream), POST /publish, GET /healthz, GET /readyz and the browser assets.
// Metrics and profiles are not among them: NewAdminHandler serves those.
// HEAD /events is refused with 405 (a HEAD would open a session); any
// other unknown path or method gets a JSON 404 or 405.
func NewHandler(svc edge.Service, eps edge.Endpoints, cfg Config) http.Handler {
	cfg.setDefaults()
	opts := []kithttp.ServerOption{
		kithttp.ServerErrorEncoder(encodeError),
		kithttp.ServerErrorHandler(logErrorHandler{cfg.Logger}),
	}
	mux := http.NewServeMux()
	mux.Handle("GET /events", drainingStream(cfg, notDraining(cfg.Draining, eventsHandler(svc, cfg))))
	mux.Handle("HEAD /events", methodNotAllowed(http.MethodGet)) // else GET's handler would take it
	mux.Handle("POST /publish", notDraining(cfg.Draining, authenticatePublisher(cfg.Auth,
		kithttp.NewServer(eps.Publish, decodePublishRequest(cfg.MaxBody, cfg.OnLimit), encodeResponse, opts...))))
	mux.Handle("GET /readyz", boundedReady(kithttp.NewServer(eps.Ready, kithttp.NopRequestDecoder, encodeReady(cfg.Logger), opts...)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(appendWire(nil, &jetssev1.Status{Status: "ok"}), '\n'))
	})
	if cfg.Web != nil {
		web := jsonErrors(cfg.Web)
		mux.Handle("GET /{$}", web)
		mux.Handle("GET /jetsse.js", web)
		mux.Handle("GET /assets/", web)
	}
	mux.Handle("/", notFoundOrNotAllowed(mux))
	return limitHeaders(cfg.MaxHeaderBytes, cfg.OnLimit, corsMiddleware(cfg.CORSOrigins, mux))
}

// limitHeaders answers 431 with the JSON error to a request whose line and
// headers exceed max bytes (counted as sent: name, value and the ": " and
// CRLF of each). net/http refuses far larger ones itself before any
// handler runs (see the http.Server's MaxHeaderBytes).
func limitHeaders(max int, onLimit func(string), next http.Handler) http.Handler {
	if max <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4
			}
		}
		if n > max {
			onLimit("header_bytes")
			writeError(w, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request headers larger than %d bytes", max))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errorStatus is the one place domain errors become HTTP status codes.
func errorStatus(err error) int {
	var in *edge.InputError
	switch {
	case errors.As(err, &in):
		return http.StatusBadRequest
	case errors.Is(err, edge.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, edge.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, edge.ErrSessionNotFound):
		return http.StatusNotFound
	case errors.As(err, new(*edge.LimitError)):
		return http.StatusTooManyRequests
	case errors.Is(err, edge.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, edge.ErrDraining), errors.Is(err, edge.ErrUnavailable), errors.Is(err, edge.ErrNotReady):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func encodeError(_ context.Context, err error, w http.ResponseWriter) {
	status := errorStatus(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		msg = "internal error" // never leak internals
	}
	var lim *edge.LimitError
	switch {
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "2")
	case errors.As(err, &lim):
		w.Header().Set("Retry-After", strconv.Itoa(int((lim.RetryAfter+time.Second-1)/time.Second)))
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="jetsse"`)
	}
	writeError(w, status, msg)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(appendWire(nil, &jetssev1.Error{Error: msg}), '\n'))
}

func encodeResponse(ctx context.Context, w http.ResponseWriter, response any) error {
	if f, ok := response.(edge.Failer); ok && f.Failed() != nil {
		encodeError(ctx, f.Failed(), w)
		return nil
	}
	var m proto.Message
	switch r := response.(type) {
	case edge.PublishResult:
		m = &jetssev1.PublishResponse{Id: r.ID}
	case edge.ReadyResult:
		m = &jetssev1.Status{Status: r.Status}
	default:
		return fmt.Errorf("httptransport: no wire message for %T", response)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(append(appendWire(nil, m), '\n'))
	return err
}

func decodePublishRequest(maxBody int64, onLimit func(string)) kithttp.DecodeRequestFunc {
	return func(ctx context.Context, r *http.Request) (any, error) {
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				onLimit("body_bytes")
				return nil, edge.ErrTooLarge
			}
			return nil, &edge.InputError{Field: "body", Err: err}
		}
		var m jetssev1.PublishRequest
		if err := wireUnmarshal.Unmarshal(b, &m); err != nil {
			return nil, &edge.InputError{Field: "body", Err: errors.New(`must be one JSON object {"topic", "event", "data", "msg_id"} with string values`)}
		}
		p, _ := principalFrom(ctx)
		return edge.PublishRequest{Principal: p, Topic: m.GetTopic(), Event: m.GetEvent(), Data: m.GetData(), MsgID: m.GetMsgId()}, nil
	}
}

type principalKey struct{}

func principalFrom(ctx context.Context) (edge.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(edge.Principal)
	return p, ok
}

// authenticatePublisher refuses a publish without valid credentials before
// its body is read, and hands the publisher's principal on in the
// request's context.
func authenticatePublisher(a *Auth, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.publisher(r)
		if err != nil {
			encodeError(r.Context(), err, w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func notDraining(draining func() bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining() {
			encodeError(r.Context(), edge.ErrDraining, w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logErrorHandler logs the errors the go-kit routes could not answer
// normally, by outcome: the edge's own faults as errors, the rest not.
type logErrorHandler struct{ l *slog.Logger }

func (h logErrorHandler) Handle(ctx context.Context, err error) {
	if edge.Outcome(err) == "error" {
		h.l.Error("request failed", "err", err)
	}
}
