package features

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
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
	authCookie  string // the jetsse_auth cookie it presents
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
	noRead           bool // open the stream and never read it
	autoReconnect    bool // like EventSource: reconnect with Last-Event-ID after the retry delay
	// A subscriber's JWT, in the Authorization header (with authScheme,
	// default "Bearer"), the jetsse_auth cookie, or the access_token query
	// parameter.
	bearer, authScheme, authCookie, accessToken string
	// fromAddr is the local address to connect from (a 127.0.0.0/8
	// address other than 127.0.0.1 is another client address).
	fromAddr string
	// header holds more request headers.
	header http.Header
}

// connect opens a connection and starts reading it. It returns once the
// response headers arrived (or the request failed).
func (c *sseClient) connect(o connectOptions) error {
	c.close()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := c.request(ctx, o)
	if err != nil {
		cancel()
		return err
	}
	tr := newTransport(o.noRead)
	if o.fromAddr != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(o.fromAddr)}}
		tr.DialContext = d.DialContext
	}
	hc := &http.Client{Transport: tr}
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		return err
	}
	done, ok := c.accept(resp, cancel)
	if !ok {
		cancel()
		return nil
	}
	go c.run(ctx, hc, req, resp, o, done)
	return nil
}

// request is the subscribe request for c's topics with what o presents.
func (c *sseClient) request(ctx context.Context, o connectOptions) (*http.Request, error) {
	q := url.Values{}
	for _, t := range c.topics {
		q.Add("topic", t)
	}
	if o.lastEventIDQuery != nil {
		q.Set("lastEventId", *o.lastEventIDQuery)
	}
	if o.accessToken != "" {
		q.Set("access_token", o.accessToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+"/events?"+q.Encode(), nil)
	if err != nil {
		return nil, err
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
	for k, v := range o.header {
		req.Header[k] = v
	}
	if o.bearer != "" {
		scheme := o.authScheme
		if scheme == "" {
			scheme = "Bearer"
		}
		req.Header.Set("Authorization", scheme+" "+o.bearer)
	}
	c.mu.Lock()
	c.authCookie = o.authCookie
	c.mu.Unlock()
	if o.authCookie != "" {
		req.AddCookie(&http.Cookie{Name: "jetsse_auth", Value: o.authCookie})
	}
	return req, nil
}

// newTransport has no keep-alive: a finished stream closes its connection,
// as a browser's EventSource does, so goroutine counts stay meaningful. For
// a client that never reads, a tiny receive buffer makes the server's writes
// stall quickly.
func newTransport(noRead bool) *http.Transport {
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	if noRead {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return conn, err
		}
	}
	return tr
}

// accept records a response: its status and headers, the body of a
// refusal, and, for a stream, the session token and cookie it carries and a
// new connection, ended by cancel. It reports whether resp is a stream, and
// returns the channel closed once the stream is done with.
func (c *sseClient) accept(resp *http.Response, cancel context.CancelFunc) (chan struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status = resp.StatusCode
	c.header = resp.Header
	c.raw = nil
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		c.errBody = string(b)
		return nil, false
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
	return c.done, true
}

// run reads the stream resp until it ends, and with o.autoReconnect
// reconnects until ctx ends or a reconnect fails; it closes done when it
// returns. A client that never reads holds the stream until ctx ends.
func (c *sseClient) run(ctx context.Context, hc *http.Client, req *http.Request, resp *http.Response, o connectOptions, done chan struct{}) {
	defer close(done)
	if o.noRead {
		<-ctx.Done()
		resp.Body.Close()
		return
	}
	for resp != nil {
		c.read(resp.Body)
		resp.Body.Close()
		if !o.autoReconnect || ctx.Err() != nil {
			return
		}
		resp = c.reconnect(ctx, hc, req)
	}
}

// reconnect reconnects as EventSource does: after the retry delay, with the
// last event ID and the cookie. It returns nil if ctx ends first or the
// reconnect fails, which ends the client.
func (c *sseClient) reconnect(ctx context.Context, hc *http.Client, req *http.Request) *http.Response {
	c.mu.Lock()
	delay := time.Second
	if n := len(c.retries); n > 0 {
		delay = c.retries[n-1]
	}
	req.Header.Set("Last-Event-ID", c.lastEventID)
	req.Header.Del("Cookie")
	req.AddCookie(&http.Cookie{Name: "jetsse_session", Value: c.cookie})
	if c.authCookie != "" {
		req.AddCookie(&http.Cookie{Name: "jetsse_auth", Value: c.authCookie})
	}
	c.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(delay):
	}
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		if err == nil {
			resp.Body.Close()
		}
		c.mu.Lock()
		c.endErr = fmt.Errorf("reconnect: %v", err)
		c.cond.Broadcast()
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	c.connected = true
	c.connections++
	c.raw = nil
	c.mu.Unlock()
	return resp
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
		case "session", "gap", "takeover", "reauth":
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

// sessionData is the data of a "session" event.
type sessionData struct {
	Session     string `json:"session"`
	Resumed     bool   `json:"resumed"`
	LastEventID string `json:"last_event_id"`
}

// lastControl returns the latest control event of type typ.
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

// session returns the data of the latest "session" event.
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

// lastEventIDAtConnect returns the last id received before the current
// connection.
func (c *sseClient) lastEventIDAtConnect() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.connections
	last := ""
	for _, e := range c.events {
		if e.Conn < n {
			last = e.ID
		}
	}
	return last
}

// hasIDs waits for len(want) events and checks their IDs are exactly want.
func (c *sseClient) hasIDs(want []string) error {
	if err := c.waitFor(waitTimeout, fmt.Sprintf("%d events", len(want)), func() bool { return len(c.events) >= len(want) }); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := ids(c.events); !slices.Equal(got, want) {
		return fmt.Errorf("client %q received ids %v, want %v", c.name, got, want)
	}
	return nil
}

func countType(rs []received, typ string) int {
	n := 0
	for _, r := range rs {
		if r.Type == typ {
			n++
		}
	}
	return n
}

func ids(rs []received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
