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
	"sync"
	"time"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"

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
	mux.Handle("POST /publish", notDraining(cfg.Draining,
		kithttp.NewServer(publishEndpoint(eps), decodePublishRequest(cfg.Auth, cfg.MaxBody, cfg.OnLimit), encodeResponse, opts...)))
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
	if r, ok := response.(edge.PublishBatchResult); ok {
		return encodeBatchResult(ctx, w, r)
	}
	if f, ok := response.(edge.Failer); ok && f.Failed() != nil {
		encodeError(ctx, f.Failed(), w)
		return nil
	}
	var b []byte
	switch r := response.(type) {
	case edge.PublishResult:
		b = appendPublishResponse(make([]byte, 0, 32), r.ID)
	case edge.ReadyResult:
		b = append(appendWire(nil, &jetssev1.Status{Status: r.Status}), '\n')
	default:
		return fmt.Errorf("httptransport: no wire message for %T", response)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(b)
	return err
}

// encodeBatchResult answers a batch: the events' IDs; after a partial
// failure the status and error of its first failed event, with the IDs of
// those stored and why each other one was not (docs/protocol.md,
// "Publishing").
func encodeBatchResult(ctx context.Context, w http.ResponseWriter, r edge.PublishBatchResult) error {
	var be *edge.BatchError
	switch {
	case r.Err == nil:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, err := w.Write(appendBatchResponse(make([]byte, 0, 16+len(r.IDs)*12), r.IDs))
		return err
	case !errors.As(r.Err, &be):
		encodeError(ctx, r.Err, w)
		return nil
	}
	m := &jetssev1.PublishBatchError{Error: be.Error(), Ids: r.IDs}
	for _, f := range be.Failed {
		m.Failed = append(m.Failed, &jetssev1.PublishFailure{Index: uint32(f.Index), Error: f.Err.Error()})
	}
	status := errorStatus(be)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(append(appendWire(nil, m), '\n'))
	return err
}

// publishEndpoint serves both forms of POST /publish: one event, or a
// batch.
func publishEndpoint(eps edge.Endpoints) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		if _, ok := request.(edge.PublishBatchRequest); ok {
			return eps.PublishBatch(ctx, request)
		}
		return eps.Publish(ctx, request)
	}
}

// bodyBufs holds the buffers publish bodies are read into.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// decodePublishRequest authenticates the publisher, before the body is
// read, then reads one event or a batch (an edge.PublishRequest or an
// edge.PublishBatchRequest). A body over maxBody is ErrTooLarge.
func decodePublishRequest(a *Auth, maxBody int64, onLimit func(string)) kithttp.DecodeRequestFunc {
	return func(ctx context.Context, r *http.Request) (any, error) {
		p, err := a.publisher(r)
		if err != nil {
			return nil, err
		}
		bp := bodyBufs.Get().(*[]byte)
		defer func() {
			if cap(*bp) <= 64<<10 { // keep no big batch's buffer
				bodyBufs.Put(bp)
			}
		}()
		b, err := readBody(r, (*bp)[:0], maxBody)
		*bp = b
		switch {
		case errors.Is(err, edge.ErrTooLarge):
			onLimit("body_bytes")
			return nil, err
		case err != nil:
			return nil, &edge.InputError{Field: "body", Err: err}
		}
		events, batch, err := decodePublishBody(b)
		if err != nil {
			return nil, &edge.InputError{Field: "body", Err: err}
		}
		if batch {
			return edge.PublishBatchRequest{Principal: p, Events: events}, nil
		}
		e := events[0]
		return edge.PublishRequest{Principal: p, Topic: e.Topic, Event: e.Event, Data: e.Data, MsgID: e.MsgID}, nil
	}
}

// readBody appends r's body to buf: edge.ErrTooLarge if it is longer than
// max bytes (known from Content-Length before anything is read).
func readBody(r *http.Request, buf []byte, max int64) ([]byte, error) {
	if r.ContentLength > max {
		return buf, edge.ErrTooLarge
	}
	if n := int(r.ContentLength); n > 0 && cap(buf) < n+1 {
		buf = make([]byte, 0, n+1) // room to see the end
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return buf, edge.ErrTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
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
