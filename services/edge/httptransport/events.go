package httptransport

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/platform"
	"github.com/jetsse/jetsse/pkg/sse"
	"github.com/jetsse/jetsse/services/edge"
)

// drainingStream answers an EventSource (Accept: text/event-stream) on a
// draining node with an empty stream that only says when to come back: a
// browser treats a 503 as final and would never reconnect. Other clients
// get the 503 with Retry-After.
func drainingStream(cfg Config, next http.Handler) http.Handler {
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

var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// eventsHandler serves GET /events: it opens the session's Stream and
// writes it as text/event-stream until the client leaves, a newer
// connection takes the session over, the client falls behind, or the node
// drains. A live plain-HTTP/1 stream is handed to Lite when it goes idle.
func eventsHandler(svc edge.Service, cfg Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, secure := cfg.Proxies.client(r)
		p, err := cfg.Auth.subscriber(r)
		if err != nil {
			refuseStream(w, r, cfg, err)
			return
		}
		req, byHeader := subscribeRequest(r)
		req.Principal, req.Client = p, edge.ClientKey(addr)
		st, err := svc.Subscribe(r.Context(), req)
		if err != nil {
			refuseStream(w, r, cfg, err)
			return
		}
		c := &streamConn{st: st, cfg: cfg, w: w, rc: http.NewResponseController(w)}
		defer c.close()
		c.start(r, byHeader, secure)
		c.serve(r)
	})
}

// refuseStream answers a stream request that was refused. An EventSource
// gives up for good on any status but 200, so where it should come back
// (the node is unavailable or over a limit; its token expired and the page
// may renew it) it gets an empty 200 stream that says when (and, for an
// expired token, the reauth event). Other refusals, and every refusal of
// other clients, get the error's status and JSON.
func refuseStream(w http.ResponseWriter, r *http.Request, cfg Config, err error) {
	if errors.Is(err, edge.ErrSessionEnded) {
		// An operator ended the session: 204 makes EventSource stop.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !wantsEventStream(r) {
		encodeError(r.Context(), err, w)
		return
	}
	var lim *edge.LimitError
	switch {
	case errorStatus(err) == http.StatusServiceUnavailable:
		comeBackLater(w, cfg.Retry, "unavailable")
	case errors.As(err, &lim):
		// Not sooner than defaults.LimitRetry (±50%): an EventSource
		// comes back on its own, and a crowd of them must not hammer.
		comeBackLater(w, max(cfg.Retry, lim.RetryAfter, defaults.LimitRetry), "limit reached ("+lim.Limit+")")
	case errors.Is(err, auth.ErrExpired):
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		b := sse.AppendRetry(nil, jitter(max(cfg.Retry, minReauthRetry)))
		_, _ = w.Write(appendReauth(b))
	default:
		encodeError(r.Context(), err, w)
	}
}

// minReauthRetry is the least an EventSource whose token expired is told
// to wait before it tries again (with the same token, unless the page
// renewed it).
const minReauthRetry = 10 * time.Second

// subscribeRequest reads a subscription from a request: its topics, the
// client's position (Last-Event-ID header, or lastEventId for clients that
// cannot set headers), and its session token (Jetsse-Session header, or the
// cookie). byHeader says the client carries its session in the header,
// and wants no cookie.
func subscribeRequest(r *http.Request) (req edge.SubscribeRequest, byHeader bool) {
	q := r.URL.Query()
	req.Topics = q["topic"]
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		req.LastEventID, req.HasLastEventID = v, true
	} else if q.Has("lastEventId") {
		req.LastEventID, req.HasLastEventID = q.Get("lastEventId"), true
	}
	if v := r.Header.Get(SessionHeader); v != "" {
		// "new" asks for a new session kept out of the cookie jar (a tab's
		// first connection, in jetsse.js).
		byHeader = true
		if v != NewSessionToken {
			req.Token = v
		}
	} else if c, err := r.Cookie(SecureCookieName); err == nil {
		req.Token = c.Value
	} else if c, err := r.Cookie(CookieName); err == nil {
		req.Token = c.Value
	}
	return req, byHeader
}

// streamConn is one event stream being written by its handler's goroutine.
type streamConn struct {
	st        *edge.Stream
	cfg       Config
	w         http.ResponseWriter
	rc        *http.ResponseController
	conn      net.Conn // set once hijacked (plain HTTP/1 with Lite)
	handedOff bool     // Lite owns the stream and the connection now
}

// start sets the stream's headers and the session cookie, and takes the
// connection from net/http when Lite may serve it later. secure says the
// client reached the edge over TLS (itself, or through a trusted proxy):
// the cookie is then Secure and named with the __Host- prefix.
func (c *streamConn) start(r *http.Request, byHeader, secure bool) {
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Set(SessionHeader, c.st.Session.Token)
	if !byHeader {
		// A client that carries its session in the header (one per tab,
		// say) keeps it there; the cookie jar is left alone.
		name := CookieName
		if secure {
			name = SecureCookieName
		}
		http.SetCookie(c.w, &http.Cookie{
			Name: name, Value: c.st.Session.Token, Path: "/",
			HttpOnly: true, SameSite: c.cfg.CookieSameSite,
			Secure: secure || c.cfg.CookieSameSite == http.SameSiteNoneMode,
		})
	}
	// A plain HTTP/1.x connection is taken from net/http, so that once
	// live it can be handed to Lite and cost no goroutine.
	if c.cfg.Lite != nil && r.ProtoMajor == 1 && r.TLS == nil {
		if conn, _, err := c.rc.Hijack(); err == nil {
			c.conn = conn
			c.st.TrackAcks(platform.AckedBytes(conn))
		}
	}
}

// serve writes the stream until it ends or is handed to Lite.
func (c *streamConn) serve(r *http.Request) {
	bp := writeBufs.Get().(*[]byte)
	defer func() { *bp = (*bp)[:0]; writeBufs.Put(bp) }()
	buf := (*bp)[:0]
	if c.conn != nil {
		buf = appendResponseHead(buf, c.w.Header())
	} else {
		c.w.WriteHeader(http.StatusOK)
	}
	buf = appendStart(buf, c.st.Session, c.cfg.Retry)
	c.st.SessionSent()
	if err := c.write(buf); err != nil {
		c.st.WriteFailed(err)
		return
	}
	c.st.Wrote(len(buf), nil, 0)
	idle := c.cfg.Heartbeat
	if c.conn != nil {
		idle = 0 // hand over to Lite as soon as the stream is live and idle
	}
	var batch []*fanout.Event
	for {
		var err error
		batch, err = c.st.Next(r.Context(), batch[:0], idle)
		switch {
		case err != nil:
			if end := appendEnd(buf[:0], err, c.st.Session.ID, c.cfg.Retry); len(end) > 0 {
				_ = c.write(end)
			}
			return
		case len(batch) > 0:
			buf, err = c.writeEvents(buf, batch)
			clear(batch)
		case idle == 0:
			if c.st.Live() {
				if c.cfg.Lite.add(c.conn, c.st) == nil {
					c.handedOff = true
					return
				}
				idle = c.cfg.Heartbeat // Lite is stopping: serve it here
			}
			continue
		default:
			buf = appendHeartbeat(buf[:0])
			if err = c.write(buf); err == nil {
				c.st.Wrote(len(buf), nil, time.Now().UnixNano())
			}
		}
		if err != nil {
			c.st.WriteFailed(err)
			return
		}
		*bp = buf
	}
}

// writeChunk is about the most one write carries. A catch-up (up to the
// whole cache, thousands of events) goes out in writes of this size: its
// first events reach the client while the rest are copied, and the
// connection's buffer stays this small.
const writeChunk = 64 << 10

// writeEvents writes the frames of batch in writes of about writeChunk
// bytes, in buf (returned, to be kept for the next batch), and records each.
func (c *streamConn) writeEvents(buf []byte, batch []*fanout.Event) ([]byte, error) {
	for len(batch) > 0 {
		n := 0
		buf = buf[:0]
		for n < len(batch) && (n == 0 || len(buf) < writeChunk) {
			buf = appendEvents(buf, batch[n:n+1])
			n++
		}
		if err := c.write(buf); err != nil {
			return buf, err
		}
		c.st.Wrote(len(buf), batch[:n], time.Now().UnixNano())
		batch = batch[n:]
	}
	return buf, nil
}

// write writes b through net/http, or straight to the connection once it
// was hijacked, bounded by the write timeout.
func (c *streamConn) write(b []byte) error {
	deadline := time.Now().Add(c.cfg.WriteTimeout)
	if c.conn != nil {
		if err := c.conn.SetWriteDeadline(deadline); err != nil {
			return err
		}
		_, err := c.conn.Write(b)
		return err
	}
	if err := c.rc.SetWriteDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	return c.rc.Flush()
}

// close ends the stream and its connection, unless Lite took them.
func (c *streamConn) close() {
	if c.handedOff {
		return
	}
	if c.conn != nil {
		c.st.FreezeAcks()
		_ = c.conn.Close()
	}
	c.st.Close()
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
