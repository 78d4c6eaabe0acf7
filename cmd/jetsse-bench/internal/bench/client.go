package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// SeqMode says which number identifies an event for loss and duplicate
// counting.
type SeqMode int

const (
	// SeqID uses the SSE id field as a decimal sequence (jetsse: the
	// JetStream stream sequence).
	SeqID SeqMode = iota
	// SeqData uses the publisher's counter "n" in the payload, for servers
	// whose ids are not sequences.
	SeqData
)

// ParseSeqMode parses "id" or "data".
func ParseSeqMode(s string) (SeqMode, error) {
	switch s {
	case "id":
		return SeqID, nil
	case "data":
		return SeqData, nil
	}
	return 0, fmt.Errorf("sequence source %q is not id or data", s)
}

func (m SeqMode) String() string {
	if m == SeqData {
		return "data"
	}
	return "id"
}

// Names on the wire (DESIGN.md §4).
const (
	SessionHeader = "Jetsse-Session"
	CookieName    = "jetsse_session"
)

// SSEConfig says how subscribers reach the server.
type SSEConfig struct {
	// URL is an http:// URL in which "{topic}" is replaced by the
	// query-escaped topic, e.g. http://127.0.0.1:8080/events?topic={topic}.
	URL string
	// SourceIPs spreads connections over the local addresses 127.0.0.1 ..
	// 127.0.0.<SourceIPs> (loopback targets only), multiplying the
	// ephemeral ports available; 0 or 1 lets the kernel choose.
	SourceIPs int
	// ConnectTimeout bounds dialing and reading the response head.
	ConnectTimeout time.Duration
	// ReadBuffer is the per-connection read buffer (default 4 KiB). The
	// response head must fit in it.
	ReadBuffer int
	// DialConcurrency bounds connections being opened at once (default 64),
	// so a burst does not overflow the server's accept queue.
	DialConcurrency int
	// Seq selects the sequence used for losses and duplicates.
	Seq SeqMode
}

// endpoint is a parsed SSEConfig.URL.
type endpoint struct {
	addr, host     string // dial address; Host header
	before, after  string // request target around the topic
	hasTopic       bool
	loopbackSource bool
}

func parseEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("SSE URL: %w", err)
	}
	if u.Scheme != "http" {
		return endpoint{}, fmt.Errorf("SSE URL %q: only http:// is supported", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	target := u.RequestURI()
	// url.Parse escapes the braces in a path; undo that for the marker.
	target = strings.ReplaceAll(target, "%7Btopic%7D", "{topic}")
	e := endpoint{addr: addr, host: u.Host}
	if i := strings.Index(target, "{topic}"); i >= 0 {
		e.before, e.after, e.hasTopic = target[:i], target[i+len("{topic}"):], true
	} else {
		e.before = target
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.To4() != nil && ip.IsLoopback() {
		e.loopbackSource = true
	}
	return e, nil
}

func (e endpoint) target(topic string) string {
	if !e.hasTopic {
		return e.before
	}
	return e.before + url.QueryEscape(topic) + e.after
}

// TokenVia says how a client presents its session token.
type TokenVia int

const (
	TokenNone   TokenVia = iota // present no token
	TokenHeader                 // Jetsse-Session request header
	TokenCookie                 // Cookie: jetsse_session=...
)

// FleetConfig configures a Fleet.
type FleetConfig struct {
	SSE SSEConfig
	// Latency records publish→receive latency of every new event in the
	// Fleet's histogram.
	Latency bool
	// Reconnect makes a client reconnect, as EventSource does, when its
	// connection ends while its Run context is live, presenting its last
	// id and token. MaxRetries bounds consecutive failed attempts.
	Reconnect  bool
	MaxRetries int
	// RetryDelay is the delay before reconnecting when the server sent no
	// retry field (default 1s).
	RetryDelay time.Duration
}

// Fleet is a set of subscriber clients sharing a configuration, counters
// and a latency histogram. Clients run in goroutines the Fleet owns: Start
// launches one, and Wait returns once every launched goroutine has ended
// (they end when the context given to Start ends, or when reconnecting
// gives up). A Fleet is safe for concurrent use.
type Fleet struct {
	cfg     FleetConfig
	ep      endpoint
	dialers []*net.Dialer
	sem     chan struct{}
	Hist    *Histogram

	wg      sync.WaitGroup
	changed chan struct{}

	// Counters over all clients, for progress lines and results.
	Sessions   atomic.Int64 // session events received
	Ready      atomic.Int64 // Runs that received their first session event
	Failed     atomic.Int64 // Runs that ended without a session event
	NotResumed atomic.Int64 // session events with resumed=false after a token was presented
	Caught     atomic.Int64 // clients that reached their target
	Running    atomic.Int64 // client goroutines running
	ConnErrors atomic.Int64 // dial, write or response head failures
	HTTPErrors atomic.Int64 // non-200 responses
	StreamEnds atomic.Int64 // connections that ended while their context was live
	Reconnects atomic.Int64
	Gaps       atomic.Int64
	Takeovers  atomic.Int64

	errMu  sync.Mutex
	errors map[string]int
}

// NewFleet validates cfg and returns an empty Fleet.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	ep, err := parseEndpoint(cfg.SSE.URL)
	if err != nil {
		return nil, err
	}
	if cfg.SSE.ConnectTimeout <= 0 {
		cfg.SSE.ConnectTimeout = 10 * time.Second
	}
	if cfg.SSE.ReadBuffer < 1024 {
		cfg.SSE.ReadBuffer = 4096
	}
	if cfg.SSE.DialConcurrency <= 0 {
		cfg.SSE.DialConcurrency = 64
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	f := &Fleet{
		cfg:     cfg,
		ep:      ep,
		sem:     make(chan struct{}, cfg.SSE.DialConcurrency),
		Hist:    NewHistogram(),
		changed: make(chan struct{}, 1),
		errors:  map[string]int{},
	}
	n := max(cfg.SSE.SourceIPs, 1)
	if n > 1 && !ep.loopbackSource {
		return nil, errors.New("several source addresses need a 127.x.y.z target")
	}
	for i := range n {
		d := &net.Dialer{Timeout: cfg.SSE.ConnectTimeout}
		if n > 1 {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte((i+1)>>8), byte((i+1)&0xff))}
			d.Control = bindNoPort
		}
		f.dialers = append(f.dialers, d)
	}
	return f, nil
}

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT so that binding a source address
// does not reserve an ephemeral port before connect (ports are then shared
// across destinations).
func bindNoPort(_, _ string, c syscall.RawConn) error {
	const ipBindAddressNoPort = 24 // linux/in.h
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// NewClient returns a client for topic; it does nothing until Start.
func (f *Fleet) NewClient(idx int, topic string) *Client {
	c := &Client{fleet: f, idx: idx, path: f.ep.target(topic)}
	c.parser = NewParser(c.onEvent)
	return c
}

// Start runs c in a goroutine owned by the Fleet until ctx ends (which
// closes its connection) or, with Reconnect, until reconnecting gives up.
// A client runs in at most one goroutine at a time: Start it again only
// after Wait.
func (f *Fleet) Start(ctx context.Context, c *Client) {
	f.wg.Add(1)
	f.Running.Add(1)
	go func() {
		defer f.wg.Done()
		defer f.poke()
		defer f.Running.Add(-1)
		c.run(ctx)
		if !c.gotSess {
			f.Failed.Add(1)
		}
	}()
}

// SetDialConcurrency changes how many connections may be opened at once.
// Call it only while no client runs.
func (f *Fleet) SetDialConcurrency(n int) {
	f.sem = make(chan struct{}, max(n, 1))
}

// Wait waits for every goroutine started by Start.
func (f *Fleet) Wait() { f.wg.Wait() }

// Changed returns a channel that receives (coalesced) after a client's
// session, catch-up or end; use it to wait for a condition on the counters
// without polling tightly.
func (f *Fleet) Changed() <-chan struct{} { return f.changed }

func (f *Fleet) poke() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// WaitFor waits until cond holds, re-checking when the fleet changes and at
// least every tick, or until ctx ends.
func (f *Fleet) WaitFor(ctx context.Context, tick time.Duration, cond func() bool) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.changed:
		case <-t.C:
		}
	}
	return nil
}

func (f *Fleet) noteErr(err error) {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	f.errMu.Lock()
	defer f.errMu.Unlock()
	if len(f.errors) < 20 || f.errors[msg] > 0 {
		f.errors[msg]++
	}
}

// Errors returns the distinct error messages seen (at most 20) and how
// often each occurred.
func (f *Fleet) Errors() map[string]int {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	m := make(map[string]int, len(f.errors))
	for k, v := range f.errors {
		m[k] = v
	}
	return m
}

// Client is one subscriber session. Its connection and parser are owned by
// the goroutine Fleet.Start runs it in; counters are atomics that others
// may read at any time; the remaining fields are safe to read or set only
// while the client is not running (before Start or after Fleet.Wait).
type Client struct {
	fleet  *Fleet
	idx    int
	path   string
	parser *Parser
	buf    []byte
	dec    chunkDecoder

	// Set before Start: what the next connection presents.
	LastEventID  []byte   // sent as Last-Event-ID when PresentID and non-empty
	PresentID    bool     // send Last-Event-ID
	Token        string   // updated from every 200 response
	PresentToken TokenVia // how to send Token when non-empty

	// Learned from the last session event.
	SessionID string
	Resumed   bool

	// Counters.
	Recv     atomic.Uint64 // new events (sequence above the last)
	Dup      atomic.Uint64 // events at or below the last sequence
	LastSeq  atomic.Uint64
	LastRecv atomic.Int64 // unix nanos of the last new event

	// Phase timing (unix nanos), cleared by ResetPhase.
	RequestAt atomic.Int64 // the first connection attempt of the current Run
	FirstAt   atomic.Int64 // the first event after RequestAt
	CaughtAt  atomic.Int64 // the first time LastSeq reached Target
	target    atomic.Uint64
	gotSess   bool // a session event arrived in this Run
	presented bool // the current connection presented a token
	connects  int  // connection attempts in this Run
}

// Attached reports whether the client's last Run received a session
// event. Call it while the client is not running.
func (c *Client) Attached() bool { return c.gotSess }

// ResetPhase clears the phase timing and target. Call it while the client
// is not running.
func (c *Client) ResetPhase() {
	c.RequestAt.Store(0)
	c.FirstAt.Store(0)
	c.CaughtAt.Store(0)
	c.target.Store(0)
}

// SetTarget sets the sequence at which the client counts as caught up
// (CaughtAt, Fleet.Caught). It is safe to call while the client runs; if
// the client is already there it is caught up at its last receive time.
func (c *Client) SetTarget(seq uint64) {
	c.target.Store(seq)
	if seq != 0 && c.LastSeq.Load() >= seq {
		c.markCaught(c.LastRecv.Load())
	}
}

func (c *Client) markCaught(at int64) {
	if c.CaughtAt.CompareAndSwap(0, at) {
		c.fleet.Caught.Add(1)
		c.fleet.poke()
	}
}

// run connects, reads until the connection ends, and reconnects if asked.
func (c *Client) run(ctx context.Context) {
	f := c.fleet
	c.gotSess, c.connects = false, 0
	failures := 0
	for {
		err := c.connection(ctx)
		if ctx.Err() != nil {
			return
		}
		var he *HTTPError
		switch {
		case errors.As(err, &he):
			f.HTTPErrors.Add(1)
			failures++
		case errors.Is(err, errConnect):
			f.ConnErrors.Add(1)
			failures++
		default: // the stream ended
			f.StreamEnds.Add(1)
			failures = 0
		}
		if err != nil {
			f.noteErr(err)
		}
		if !f.cfg.Reconnect || failures > f.cfg.MaxRetries {
			return
		}
		delay := f.cfg.RetryDelay
		if r := c.parser.Retry; r >= 0 {
			delay = time.Duration(r) * time.Millisecond
		}
		f.Reconnects.Add(1)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// errConnect marks failures before a response arrived.
var errConnect = errors.New("connect")

// HTTPError is a non-200 response to a subscribe request.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}

// connection makes one connection and reads it until it ends. A nil error
// means the server ended the body cleanly.
func (c *Client) connection(ctx context.Context) error {
	f := c.fleet
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-f.sem
		}
	}
	defer release()

	now := time.Now().UnixNano()
	c.RequestAt.CompareAndSwap(0, now)
	c.connects++
	d := f.dialers[c.idx%len(f.dialers)]
	conn, err := d.DialContext(ctx, "tcp", f.ep.addr)
	if err != nil {
		return fmt.Errorf("%w: %w", errConnect, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	if c.buf == nil {
		c.buf = make([]byte, f.cfg.SSE.ReadBuffer)
	}
	_ = conn.SetDeadline(time.Now().Add(f.cfg.SSE.ConnectTimeout))
	if _, err := conn.Write(c.request(c.buf[:0])); err != nil {
		return fmt.Errorf("%w: writing request: %w", errConnect, err)
	}
	head, body, err := readHead(conn, c.buf)
	if err != nil {
		return fmt.Errorf("%w: %w", errConnect, err)
	}
	if head.status != 200 {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return &HTTPError{Status: head.status, Body: msg}
	}
	if head.token != "" {
		c.Token = head.token
	}
	_ = conn.SetDeadline(time.Time{})
	release()

	// The body: chunked, sized, or up to EOF.
	c.dec = chunkDecoder{}
	c.parser.partial, c.parser.skipLF = c.parser.partial[:0], false
	c.parser.data, c.parser.typ, c.parser.hasID = c.parser.data[:0], c.parser.typ[:0], false
	left := head.length
	feed := func(b []byte) (bool, error) {
		switch {
		case head.chunked:
			return c.dec.feed(b, c.parser)
		case left >= 0:
			if int64(len(b)) > left {
				b = b[:left]
			}
			left -= int64(len(b))
			return left == 0, c.parser.Feed(b)
		}
		return false, c.parser.Feed(b)
	}
	if len(body) > 0 {
		done, err := feed(body)
		if done || err != nil {
			return err
		}
	}
	for {
		n, err := conn.Read(c.buf)
		if n > 0 {
			done, ferr := feed(c.buf[:n])
			if done || ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if !head.chunked && head.length < 0 {
					return nil
				}
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

func (c *Client) request(b []byte) []byte {
	b = append(b, "GET "...)
	b = append(b, c.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.fleet.ep.host...)
	b = append(b, "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: jetsse-bench\r\n"...)
	if c.PresentID && len(c.LastEventID) > 0 {
		b = append(b, "Last-Event-ID: "...)
		b = append(b, c.LastEventID...)
		b = append(b, "\r\n"...)
	}
	c.presented = c.Token != "" && c.PresentToken != TokenNone
	if c.presented {
		switch c.PresentToken {
		case TokenHeader:
			b = append(b, SessionHeader+": "...)
			b = append(b, c.Token...)
			b = append(b, "\r\n"...)
		case TokenCookie:
			b = append(b, "Cookie: "+CookieName+"="...)
			b = append(b, c.Token...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// onEvent handles one event on the client's goroutine.
func (c *Client) onEvent(ev *Event) {
	f := c.fleet
	switch string(ev.Type) {
	case "session":
		var s struct {
			Session string `json:"session"`
			Resumed bool   `json:"resumed"`
		}
		_ = json.Unmarshal(ev.Data, &s)
		c.SessionID, c.Resumed = s.Session, s.Resumed
		if !s.Resumed && c.presented {
			f.NotResumed.Add(1)
		}
		f.Sessions.Add(1)
		if !c.gotSess {
			c.gotSess = true
			f.Ready.Add(1)
			f.poke()
		}
		return
	case "gap":
		f.Gaps.Add(1)
		return
	case "takeover":
		f.Takeovers.Add(1)
		return
	}
	now := time.Now().UnixNano()
	var seq uint64
	var ok bool
	if f.cfg.SSE.Seq == SeqData {
		seq, ok = PayloadCounter(ev.Data)
	} else {
		seq, ok = parseDecimal(ev.ID)
	}
	if ev.HasID {
		c.LastEventID = append(c.LastEventID[:0], ev.ID...)
	}
	if !ok {
		return
	}
	if seq <= c.LastSeq.Load() {
		c.Dup.Add(1)
		return
	}
	c.LastRecv.Store(now)
	c.LastSeq.Store(seq)
	c.Recv.Add(1)
	c.FirstAt.CompareAndSwap(0, now)
	if f.cfg.Latency {
		if t, ok := PayloadTime(ev.Data); ok {
			f.Hist.Record(c.idx, time.Duration(now-t))
		}
	}
	if t := c.target.Load(); t != 0 && seq >= t && c.CaughtAt.Load() == 0 {
		c.markCaught(now)
	}
}

// responseHead is what a subscriber needs from a response head.
type responseHead struct {
	status  int
	chunked bool
	length  int64 // Content-Length, or -1
	token   string
}

// readHead reads a response head into buf and returns it with the body
// bytes that followed it in buf.
func readHead(conn net.Conn, buf []byte) (responseHead, []byte, error) {
	n := 0
	for {
		if n == len(buf) {
			return responseHead{}, nil, errors.New("response head larger than the read buffer")
		}
		m, err := conn.Read(buf[n:])
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
			h, err := parseHead(buf[:i+2])
			return h, buf[i+4 : n], err
		}
		if err != nil {
			return responseHead{}, nil, fmt.Errorf("reading response head: %w", err)
		}
	}
}

func parseHead(b []byte) (responseHead, error) {
	h := responseHead{length: -1}
	line, rest, _ := bytes.Cut(b, []byte("\r\n"))
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return h, fmt.Errorf("bad status line %q", line)
	}
	st, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return h, fmt.Errorf("bad status line %q", line)
	}
	h.status = st
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Content-Length")):
			if v, ok := parseDecimal(value); ok {
				h.length = int64(v)
			}
		case bytes.EqualFold(name, []byte(SessionHeader)):
			h.token = string(value)
		case bytes.EqualFold(name, []byte("Set-Cookie")) && h.token == "":
			if v, ok := bytes.CutPrefix(value, []byte(CookieName+"=")); ok {
				v, _, _ = bytes.Cut(v, []byte(";"))
				h.token = string(v)
			}
		}
	}
	return h, nil
}
