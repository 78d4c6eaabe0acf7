package features

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/jetsse/jetsse/pkg/sse"
)

// received is one event a client got.
type received struct {
	ID   string
	Type string
	Data string
	Conn int // which connection of the client (1, 2, …)
}

// sseClient is a test subscriber: a real HTTP client reading a real
// text/event-stream through the spec-compliant decoder in pkg/sse. It keeps
// what a browser keeps across connections: the session cookie and the last
// event ID.
type sseClient struct {
	name   string
	topics []string
	base   func() string // http://host:port of the server it talks to

	mu          sync.Mutex
	cond        *sync.Cond
	events      []received // every event with an id, over all connections
	control     []received // session, gap, takeover events, in order
	comments    int
	retries     []time.Duration
	lastEventID string
	token       string // from the Jetsse-Session response header
	firstToken  string
	cookie      string // from Set-Cookie
	header      http.Header
	status      int
	errBody     string
	connected   bool
	connections int
	endErr      error
	cancel      context.CancelFunc
	done        chan struct{}
	raw         []byte // the raw stream of the current connection
}

func newSSEClient(name string, base func() string, topics []string) *sseClient {
	c := &sseClient{name: name, base: base, topics: topics}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// connectOptions say what a (re)connection presents.
type connectOptions struct {
	lastEventID      *string // header value; nil: none
	lastEventIDQuery *string
	token            string // Jetsse-Session header
	cookie           string
	rawQuery         string // overrides the topic query
	noRead           bool   // open the stream and never read it
	autoReconnect    bool   // like EventSource: reconnect with Last-Event-ID after the retry delay
}

// connect opens a connection and starts reading it. It returns once the
// response headers arrived (or the request failed).
func (c *sseClient) connect(o connectOptions) error {
	c.close()
	q := url.Values{}
	for _, t := range c.topics {
		q.Add("topic", t)
	}
	if o.lastEventIDQuery != nil {
		q.Set("lastEventId", *o.lastEventIDQuery)
	}
	raw := q.Encode()
	if o.rawQuery != "" {
		raw = o.rawQuery
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+"/events?"+raw, nil)
	if err != nil {
		cancel()
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if o.lastEventID != nil {
		req.Header.Set("Last-Event-ID", *o.lastEventID)
	}
	if o.token != "" {
		req.Header.Set("Jetsse-Session", o.token)
	}
	if o.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "jetsse_session", Value: o.cookie})
	}
	// No keep-alive: a finished stream closes its connection, as a
	// browser's EventSource does, so goroutine counts stay meaningful.
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	if o.noRead {
		// A tiny receive buffer so the server's writes stall quickly.
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return conn, err
		}
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		return err
	}
	c.mu.Lock()
	c.status = resp.StatusCode
	c.header = resp.Header
	c.raw = nil
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		c.errBody = string(b)
		c.mu.Unlock()
		cancel()
		return nil
	}
	if tok := resp.Header.Get("Jetsse-Session"); tok != "" {
		c.token = tok
		if c.firstToken == "" {
			c.firstToken = tok
		}
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "jetsse_session" {
			c.cookie = ck.Value
		}
	}
	c.connected = true
	c.connections++
	c.endErr = nil
	c.cancel = cancel
	c.done = make(chan struct{})
	done := c.done
	c.mu.Unlock()

	go func() {
		defer close(done)
		for {
			if o.noRead {
				<-ctx.Done()
				resp.Body.Close()
				return
			}
			c.read(resp.Body)
			resp.Body.Close()
			if !o.autoReconnect || ctx.Err() != nil {
				return
			}
			// Reconnect as EventSource does: after the retry delay, with the
			// last event ID and the cookie.
			c.mu.Lock()
			delay := time.Second
			if n := len(c.retries); n > 0 {
				delay = c.retries[n-1]
			}
			req.Header.Set("Last-Event-ID", c.lastEventID)
			req.Header.Del("Cookie")
			req.AddCookie(&http.Cookie{Name: "jetsse_session", Value: c.cookie})
			c.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			var err error
			resp, err = (&http.Client{Transport: tr}).Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				if err == nil {
					resp.Body.Close()
				}
				c.mu.Lock()
				c.endErr = fmt.Errorf("reconnect: %v", err)
				c.cond.Broadcast()
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			c.connected = true
			c.connections++
			c.raw = nil
			c.mu.Unlock()
		}
	}()
	return nil
}

func (c *sseClient) read(body io.Reader) {
	tee := &teeRecorder{c: c, r: bufio.NewReader(body)}
	d := sse.NewDecoder(tee)
	d.OnComment = func([]byte) {
		c.mu.Lock()
		c.comments++
		c.cond.Broadcast()
		c.mu.Unlock()
	}
	lastRetry := time.Duration(0)
	for {
		ev, err := d.Next()
		c.mu.Lock()
		if d.Retry != lastRetry {
			lastRetry = d.Retry
			c.retries = append(c.retries, d.Retry)
		}
		if err != nil {
			c.connected = false
			c.endErr = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		r := received{ID: ev.ID, Type: ev.Type, Data: string(ev.Data), Conn: c.connections}
		switch ev.Type {
		case "session", "gap", "takeover":
			c.control = append(c.control, r)
		default:
			c.events = append(c.events, r)
			c.lastEventID = ev.ID
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// teeRecorder keeps the raw bytes of the current connection for framing
// assertions.
type teeRecorder struct {
	c *sseClient
	r io.Reader
}

func (t *teeRecorder) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.c.mu.Lock()
		if len(t.c.raw) < 1<<20 {
			t.c.raw = append(t.c.raw, p[:n]...)
		}
		t.c.mu.Unlock()
	}
	return n, err
}

// close ends the current connection, like closing a browser tab.
func (c *sseClient) close() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.cancel, c.done = nil, nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	c.mu.Lock()
	c.connected = false
	c.mu.Unlock()
}

// waitFor waits until cond (called with c.mu held) holds, or times out.
func (c *sseClient) waitFor(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("client %q: timed out after %v waiting for %s (has %d events, control %v, connected %v, end %v)",
				c.name, timeout, what, len(c.events), c.control, c.connected, c.endErr)
		}
		c.cond.Wait()
	}
	return nil
}

func (c *sseClient) eventIDs() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]uint64, 0, len(c.events))
	for _, e := range c.events {
		v, _ := strconv.ParseUint(e.ID, 10, 64)
		ids = append(ids, v)
	}
	return ids
}

// sessionEvent returns the data of the latest "session" event.
type sessionData struct {
	Session     string `json:"session"`
	Resumed     bool   `json:"resumed"`
	LastEventID string `json:"last_event_id"`
}

func (c *sseClient) lastControl(typ string) (received, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.control) - 1; i >= 0; i-- {
		if c.control[i].Type == typ {
			return c.control[i], nil
		}
	}
	return received{}, fmt.Errorf("client %q got no %q event (control events: %v)", c.name, typ, c.control)
}

func (c *sseClient) session() (sessionData, error) {
	r, err := c.lastControl("session")
	if err != nil {
		return sessionData{}, err
	}
	var s sessionData
	if err := json.Unmarshal([]byte(r.Data), &s); err != nil {
		return s, fmt.Errorf("session event data %q: %w", r.Data, err)
	}
	return s, nil
}

var errNotConnected = errors.New("not connected")
