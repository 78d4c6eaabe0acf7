package edge

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"
	"google.golang.org/protobuf/proto"

	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/pkg/sse"
)

// Names on the wire.
const (
	CookieName    = "jetsse_session"
	SessionHeader = "Jetsse-Session"
	// NewSessionToken, sent as the Jetsse-Session header, asks for a new
	// session carried by the header only (no cookie is set).
	NewSessionToken = "new"
)

// HTTPConfig configures the HTTP transport.
type HTTPConfig struct {
	PublishToken string
	Heartbeat    time.Duration // comment interval while idle (default 15s)
	WriteTimeout time.Duration // per write to a client (default 10s)
	MaxBody      int64         // POST /publish body limit (default 1 MiB)
	Retry        time.Duration // base reconnect delay (default 2s), ±50% jitter
	Metrics      http.Handler  // served at /metrics
	Logger       *slog.Logger
	// Draining reports whether the node is draining (new requests: 503).
	Draining func() bool
	// Web serves the browser assets (GET /, GET /jetsse.js, GET /assets/…);
	// nil serves none.
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

func (c *HTTPConfig) setDefaults() {
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.Retry <= 0 {
		c.Retry = 2 * time.Second
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
}

// NewHTTPHandler returns the edge's routes: GET /events (SSE), POST
// /publish, GET /healthz, GET /readyz and GET /metrics.
func NewHTTPHandler(svc Service, eps Endpoints, cfg HTTPConfig) http.Handler {
	cfg.setDefaults()
	opts := []kithttp.ServerOption{
		kithttp.ServerErrorEncoder(encodeError),
		kithttp.ServerErrorHandler(logErrorHandler{cfg.Logger}),
	}
	mux := http.NewServeMux()
	mux.Handle("GET /events", drainingStream(cfg, notDraining(cfg.Draining, sseHandler(svc, cfg))))
	mux.Handle("POST /publish", notDraining(cfg.Draining, requireBearer(cfg.PublishToken,
		kithttp.NewServer(eps.Publish, decodePublishRequest(cfg.MaxBody), encodeResponse, opts...))))
	mux.Handle("GET /readyz", kithttp.NewServer(eps.Ready, kithttp.NopRequestDecoder, encodeResponse, opts...))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(appendWire(nil, &jetssev1.Status{Status: "ok"}), '\n'))
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Web != nil {
		mux.Handle("GET /{$}", cfg.Web)
		mux.Handle("GET /jetsse.js", cfg.Web)
		mux.Handle("GET /assets/", cfg.Web)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	return corsMiddleware(cfg.CORSOrigins, mux)
}

// errorStatus is the one place domain errors become HTTP status codes.
func errorStatus(err error) int {
	var in *InputError
	switch {
	case errors.As(err, &in):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrDraining), errors.Is(err, ErrUnavailable), errors.Is(err, ErrNotReady):
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
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
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
	if f, ok := response.(Failer); ok && f.Failed() != nil {
		encodeError(ctx, f.Failed(), w)
		return nil
	}
	var m proto.Message
	switch r := response.(type) {
	case publishResult:
		m = &jetssev1.PublishResponse{Id: r.ID}
	case readyResult:
		m = &jetssev1.Status{Status: r.Status}
	default:
		return fmt.Errorf("edge: no wire message for %T", response)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(append(appendWire(nil, m), '\n'))
	return err
}

func decodePublishRequest(maxBody int64) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, ErrTooLarge
			}
			return nil, inputError("body", err)
		}
		var m jetssev1.PublishRequest
		if err := wireUnmarshal.Unmarshal(b, &m); err != nil {
			return nil, inputError("body", errors.New(`must be one JSON object {"topic", "event", "data", "msg_id"} with string values`))
		}
		return PublishRequest{Topic: m.GetTopic(), Event: m.GetEvent(), Data: m.GetData(), ID: m.GetMsgId()}, nil
	}
}

// requireBearer refuses requests without "Authorization: Bearer <token>"
// before reading their body.
func requireBearer(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jetsse"`)
			encodeError(r.Context(), ErrUnauthorized, w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func notDraining(draining func() bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining() {
			encodeError(r.Context(), ErrDraining, w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// drainingStream answers an EventSource (Accept: text/event-stream) on a
// draining node with an empty stream that only says when to come back: a
// browser treats a 503 as final and would never reconnect. Other clients
// get the 503 with Retry-After.
func drainingStream(cfg HTTPConfig, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cfg.Draining() || !wantsEventStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		comeBackLater(w, cfg.Retry, "draining")
	})
}

func wantsEventStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// comeBackLater answers a stream request with an empty stream that only
// says when to reconnect (retry:, with jitter) and why, in a comment.
func comeBackLater(w http.ResponseWriter, retry time.Duration, why string) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	b := sse.AppendRetry(nil, jitter(retry))
	_, _ = w.Write(sse.AppendComment(b, why+": reconnect later"))
}

type logErrorHandler struct{ l *slog.Logger }

func (h logErrorHandler) Handle(ctx context.Context, err error) {
	if errorStatus(err) == http.StatusInternalServerError {
		h.l.Error("request failed", "err", err)
	}
}

var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// sseHandler serves GET /events: it opens the session's Stream and writes
// it as text/event-stream until the client leaves, a newer connection takes
// the session over, the client falls behind, or the node drains.
func sseHandler(svc Service, cfg HTTPConfig) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		req := SubscribeRequest{Topics: q["topic"]}
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			req.LastEventID, req.HasLastEventID = v, true
		} else if q.Has("lastEventId") {
			req.LastEventID, req.HasLastEventID = q.Get("lastEventId"), true
		}
		byHeader := false
		if v := r.Header.Get(SessionHeader); v != "" {
			// "new" asks for a new session kept out of the cookie jar (a
			// tab's first connection, in jetsse.js).
			byHeader = true
			if v != NewSessionToken {
				req.Token = v
			}
		} else if c, err := r.Cookie(CookieName); err == nil {
			req.Token = c.Value
		}
		st, err := svc.Subscribe(r.Context(), req)
		if err != nil {
			if errorStatus(err) == http.StatusServiceUnavailable && wantsEventStream(r) {
				// EventSource gives up for good on a 503; told to come
				// back, it reconnects after the retry delay.
				comeBackLater(w, cfg.Retry, "unavailable")
				return
			}
			encodeError(r.Context(), err, w)
			return
		}
		handedOff := false
		defer func() {
			if !handedOff {
				st.Close()
			}
		}()

		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		h.Set(SessionHeader, st.Session.Token)
		if !byHeader {
			// A client that carries its session in the header (one per
			// tab, say) keeps it there; the cookie jar is left alone.
			http.SetCookie(w, &http.Cookie{
				Name: CookieName, Value: st.Session.Token, Path: "/",
				HttpOnly: true, SameSite: cfg.CookieSameSite,
				Secure: r.TLS != nil || cfg.CookieSameSite == http.SameSiteNoneMode,
			})
		}

		rc := http.NewResponseController(w)
		out := streamWriter{w: w, rc: rc, timeout: cfg.WriteTimeout}
		// A plain HTTP/1.x connection is taken from net/http, so that once
		// live it can be handed to Lite and cost no goroutine.
		if cfg.Lite != nil && r.ProtoMajor == 1 && r.TLS == nil {
			if conn, _, err := rc.Hijack(); err == nil {
				out.conn = conn
				st.trackAcks(conn)
				defer func() {
					if !handedOff {
						st.freezeAcks()
						conn.Close()
					}
				}()
			}
		}

		ctx := r.Context()
		bp := writeBufs.Get().(*[]byte)
		defer func() { *bp = (*bp)[:0]; writeBufs.Put(bp) }()

		buf := (*bp)[:0]
		if out.conn != nil {
			buf = appendResponseHead(buf, h)
		} else {
			w.WriteHeader(http.StatusOK)
		}
		buf = sse.AppendRetry(buf, jitter(cfg.Retry))
		buf = append(buf, st.SessionFrame()...)
		buf = append(buf, st.GapFrame()...)
		if err := out.write(buf); err != nil {
			st.WriteFailed(err)
			return
		}
		st.Delivered(len(buf), nil, 0)
		idle := cfg.Heartbeat
		if out.conn != nil {
			idle = 0 // hand over to Lite as soon as the stream is live and idle
		}
		var batch []*fanout.Event
		for {
			batch, err = st.Next(ctx, batch[:0], idle)
			buf = buf[:0]
			switch {
			case err == nil && len(batch) == 0 && out.conn != nil && idle == 0:
				if st.Live() {
					if cfg.Lite.add(out.conn, st) == nil {
						handedOff = true
						return
					}
					idle = cfg.Heartbeat // Lite is stopping: serve it here
				}
				continue
			case err == nil && len(batch) == 0:
				buf = sse.AppendComment(buf, "")
			case err == nil:
				for _, ev := range batch {
					buf = append(buf, ev.Frame...)
				}
			case errors.Is(err, ErrTakenOver):
				_ = out.write(append(buf, st.TakeoverFrame()...))
				return
			case errors.Is(err, ErrDraining), errors.Is(err, ErrStreamReset):
				// Tell the client when to come back, spread out.
				_ = out.write(sse.AppendRetry(buf, jitter(cfg.Retry)))
				return
			default: // slow client, stream reset, client gone
				return
			}
			if err := out.write(buf); err != nil {
				st.WriteFailed(err)
				return
			}
			st.Delivered(len(buf), batch, time.Now().UnixNano())
			clear(batch)
			*bp = buf
		}
	})
}

// streamWriter writes a stream's bytes through net/http, or straight to
// the connection once it was hijacked, each write bounded by the write
// timeout.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	conn    net.Conn
	timeout time.Duration
}

func (s streamWriter) write(b []byte) error {
	deadline := time.Now().Add(s.timeout)
	if s.conn != nil {
		if err := s.conn.SetWriteDeadline(deadline); err != nil {
			return err
		}
		_, err := s.conn.Write(b)
		return err
	}
	if err := s.rc.SetWriteDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// appendResponseHead writes the status line and headers of a hijacked
// stream. The body runs until the connection closes.
func appendResponseHead(b []byte, h http.Header) []byte {
	b = append(b, "HTTP/1.1 200 OK\r\n"...)
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	var hb strings.Builder
	_ = h.Write(&hb)
	b = append(b, hb.String()...)
	return append(b, "\r\n"...)
}

// jitter returns d ± 50%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + mrand.N(d)
}
