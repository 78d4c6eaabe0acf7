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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// Attach says when a subscriber counts as attached (see AttachMode).
	Attach AttachMode
	// ResumeURL, when set, is the URL of a reconnect that presents the
	// client's position (PresentID) once the client knows every value the
	// URL uses: {topic}, {last_id} (the last SSE id) and {data:KEY} (the
	// last value of the member "KEY" seen in an event's data). Servers that
	// take the position in the URL rather than in Last-Event-ID need it,
	// e.g. Centrifugo's uni_sse connect request with recover, offset and
	// epoch. Placeholders may appear percent-encoded in a query.
	ResumeURL string
}

// AttachMode says which frame makes a subscriber count as attached: the
// scenarios publish only once every subscriber is.
type AttachMode int

const (
	// AttachSession waits for jetsse's "session" event.
	AttachSession AttachMode = iota
	// AttachFirst takes the first event or comment after the response
	// head, for servers that send no session event but answer once the
	// subscription is in place (Centrifugo's connect push, Mercure's
	// opening comment).
	AttachFirst
)

// ParseAttachMode parses "session" or "first".
func ParseAttachMode(s string) (AttachMode, error) {
	switch s {
	case "session":
		return AttachSession, nil
	case "first":
		return AttachFirst, nil
	}
	return 0, fmt.Errorf("attach mode %q is not session or first", s)
}

func (m AttachMode) String() string {
	if m == AttachFirst {
		return "first"
	}
	return "session"
}

// endpoint is a parsed SSEConfig.URL (and ResumeURL).
type endpoint struct {
	addr, host     string // dial address; Host header
	live           target // the request target of a first connection
	resume         target // of a reconnect that presents a position; may be empty
	loopbackSource bool
}

// target is a request target split at its placeholders.
type target struct {
	parts []targetPart
	keys  []string // the data keys referenced, in order of first use
}

type targetPart struct {
	lit  string
	kind int // partLiteral, partTopic, partLastID or partData
	key  int // index into keys for partData
}

const (
	partLiteral = iota
	partTopic
	partLastID
	partData
)

func (t target) empty() bool { return len(t.parts) == 0 }

// expand returns the target for topic, with the client's last id and
// captured data values; ok is false when a value it needs is unknown.
func (t target) expand(b []byte, topic string, lastID []byte, data [][]byte) ([]byte, bool) {
	for _, p := range t.parts {
		switch p.kind {
		case partLiteral:
			b = append(b, p.lit...)
		case partTopic:
			b = append(b, url.QueryEscape(topic)...)
		case partLastID:
			if len(lastID) == 0 {
				return b, false
			}
			b = append(b, url.QueryEscape(string(lastID))...)
		case partData:
			if p.key >= len(data) || data[p.key] == nil {
				return b, false
			}
			b = append(b, url.QueryEscape(string(data[p.key]))...)
		}
	}
	return b, true
}

// parseTarget splits a request target at {topic}, {last_id} and
// {data:KEY}, plain or percent-encoded ({ as %7B, } as %7D, : as %3A).
func parseTarget(raw string, allowPosition bool) (target, error) {
	var t target
	lit := func(s string) {
		if s != "" {
			t.parts = append(t.parts, targetPart{lit: s})
		}
	}
	norm := strings.NewReplacer("%7B", "{", "%7b", "{", "%7D", "}", "%7d", "}", "%3A", ":", "%3a", ":")
	for raw != "" {
		i := strings.Index(raw, "{")
		j := strings.Index(raw, "%7B")
		if k := strings.Index(raw, "%7b"); k >= 0 && (j < 0 || k < j) {
			j = k
		}
		openLen := 1
		if i < 0 || (j >= 0 && j < i) {
			i, openLen = j, 3
		}
		if i < 0 {
			lit(raw)
			break
		}
		// The placeholder ends at the first } (or %7D) after i.
		end, endLen := -1, 0
		for k := i + 1; k < len(raw); k++ {
			if raw[k] == '}' {
				end, endLen = k, 1
				break
			}
			if k+3 <= len(raw) && strings.EqualFold(raw[k:k+3], "%7D") {
				end, endLen = k, 3
				break
			}
		}
		if end < 0 {
			lit(raw)
			break
		}
		name := norm.Replace(raw[i : end+endLen])
		name = name[1 : len(name)-1]
		switch {
		case name == "topic":
			lit(raw[:i])
			t.parts = append(t.parts, targetPart{kind: partTopic})
		case name == "last_id" && allowPosition:
			lit(raw[:i])
			t.parts = append(t.parts, targetPart{kind: partLastID})
		case strings.HasPrefix(name, "data:") && len(name) > len("data:") && allowPosition:
			lit(raw[:i])
			key := name[len("data:"):]
			idx := slices.Index(t.keys, key)
			if idx < 0 {
				idx = len(t.keys)
				t.keys = append(t.keys, key)
			}
			t.parts = append(t.parts, targetPart{kind: partData, key: idx})
		default: // not a placeholder: keep the brace, look further
			lit(raw[:i+openLen])
			raw = raw[i+openLen:]
			continue
		}
		raw = raw[end+endLen:]
	}
	return t, nil
}

func parseEndpoint(raw, resume string) (endpoint, error) {
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
	e := endpoint{addr: addr, host: u.Host}
	if e.live, err = parseTarget(u.RequestURI(), false); err != nil {
		return endpoint{}, err
	}
	if resume != "" {
		r, err := url.Parse(resume)
		if err != nil {
			return endpoint{}, fmt.Errorf("resume URL: %w", err)
		}
		if r.Scheme != u.Scheme || r.Host != u.Host {
			return endpoint{}, fmt.Errorf("resume URL %q: must have the SSE URL's scheme and host", resume)
		}
		if e.resume, err = parseTarget(r.RequestURI(), true); err != nil {
			return endpoint{}, err
		}
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.To4() != nil && ip.IsLoopback() {
		e.loopbackSource = true
	}
	return e, nil
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
	// Acks, when set with Latency, also records acknowledgement→receive
	// latency in AckHist: receive time minus the time Acks saw the
	// publish's acknowledgement (Ledger.TrackAckTimes). An event received
	// before its acknowledgement counts as 0 and in BeforeAck.
	Acks *Ledger
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
	Hist    *Histogram // send → receive
	AckHist *Histogram // acknowledgement → receive (FleetConfig.Acks)

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
	BeforeAck  atomic.Int64 // events received before their publish was acknowledged

	errMu  sync.Mutex
	errors map[string]int
}

// NewFleet validates cfg and returns an empty Fleet.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	ep, err := parseEndpoint(cfg.SSE.URL, cfg.SSE.ResumeURL)
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
		AckHist: NewHistogram(),
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

// NewClient returns a client for topic; it does nothing until Start.
func (f *Fleet) NewClient(idx int, topic string) *Client {
	c := &Client{fleet: f, idx: idx, topic: topic}
	c.parser = NewParser(c.onEvent)
	if f.cfg.SSE.Attach == AttachFirst {
		c.parser.OnComment = c.attached
	}
	if keys := f.ep.resume.keys; len(keys) > 0 {
		c.captured = make([][]byte, len(keys))
	}
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
	topic  string
	parser *Parser
	buf    []byte
	dec    chunkDecoder

	// Set before Start: what the next connection presents.
	LastEventID  []byte   // sent as Last-Event-ID when PresentID and non-empty
	PresentID    bool     // send Last-Event-ID
	Token        string   // updated from every 200 response
	PresentToken TokenVia // how to send Token when non-empty

	window seqWindow // the sequences at and below LastSeq received

	// captured holds the last value of each data key the resume URL
	// uses (nil until seen).
	captured [][]byte

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
	ep := c.fleet.ep
	done := false
	if c.PresentID && !ep.resume.empty() {
		start := len(b)
		if b, done = ep.resume.expand(b, c.topic, c.LastEventID, c.captured); !done {
			b = b[:start]
		}
	}
	if !done {
		b, _ = ep.live.expand(b, c.topic, nil, nil)
	}
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

// attached counts the client's first attachment in this Run.
func (c *Client) attached() {
	if !c.gotSess {
		c.gotSess = true
		c.fleet.Ready.Add(1)
		c.fleet.poke()
	}
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
		c.attached()
		return
	case "gap":
		f.Gaps.Add(1)
		return
	case "takeover":
		f.Takeovers.Add(1)
		return
	}
	if f.cfg.SSE.Attach == AttachFirst {
		c.attached()
	}
	now := time.Now().UnixNano()
	if ev.HasID {
		c.LastEventID = append(c.LastEventID[:0], ev.ID...)
	}
	for i, key := range f.ep.resume.keys {
		if v, ok := lastJSONValue(ev.Data, key); ok {
			c.captured[i] = append(c.captured[i][:0], v...)
		}
	}
	if f.cfg.SSE.Seq == SeqData {
		// A peer may carry several events in one frame (Centrifugo's
		// recovered publications): each payload counts.
		forEachPayload(ev.Data, func(t int64, n uint64) { c.deliver(now, n, n, t, true) })
		return
	}
	seq, ok := parseDecimal(ev.ID)
	if !ok {
		return
	}
	t, hasT := PayloadTime(ev.Data)
	var n uint64
	if f.cfg.Acks != nil {
		n, _ = PayloadCounter(ev.Data)
	}
	c.deliver(now, seq, n, t, hasT)
}

// deliver counts one event with sequence seq and publisher counter n (0:
// unknown), received at now and sent at t (when hasT).
func (c *Client) deliver(now int64, seq, n uint64, t int64, hasT bool) {
	f := c.fleet
	if last := c.LastSeq.Load(); seq <= last {
		// With publisher counters, concurrent publishers may have the
		// server store events slightly out of counter order: a counter
		// not seen yet within the window is new. Stream sequences arrive
		// in order, so below the last one is always a duplicate.
		if f.cfg.SSE.Seq != SeqData || !c.window.mark(last-seq) {
			c.Dup.Add(1)
			return
		}
	} else {
		c.window.advance(seq - last)
		c.LastSeq.Store(seq)
	}
	c.LastRecv.Store(now)
	c.Recv.Add(1)
	c.FirstAt.CompareAndSwap(0, now)
	if f.cfg.Latency && hasT {
		f.Hist.Record(c.idx, time.Duration(now-t))
		if f.cfg.Acks != nil {
			if at := f.cfg.Acks.AckAt(n); at != 0 {
				f.AckHist.Record(c.idx, time.Duration(now-at))
			} else {
				f.BeforeAck.Add(1)
				f.AckHist.Record(c.idx, 0)
			}
		}
	}
	if tg := c.target.Load(); tg != 0 && seq >= tg && c.CaughtAt.Load() == 0 {
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

// seqWindow remembers which of the 1,024 sequences at and below a client's
// last one it received: bit i stands for last - i.
type seqWindow struct {
	bits [16]uint64
}

const seqWindowLen = 16 * 64

// advance moves the window up by n for a new last sequence, which it marks.
func (w *seqWindow) advance(n uint64) {
	if n >= seqWindowLen {
		w.bits = [16]uint64{}
	} else {
		words, rem := int(n/64), n%64
		for i := len(w.bits) - 1; i >= 0; i-- {
			var v uint64
			if j := i - words; j >= 0 {
				v = w.bits[j] << rem
				if rem > 0 && j > 0 {
					v |= w.bits[j-1] >> (64 - rem)
				}
			}
			w.bits[i] = v
		}
	}
	w.bits[0] |= 1
}

// mark marks last - back as received; false means it was already, or is
// too far below to tell.
func (w *seqWindow) mark(back uint64) bool {
	if back >= seqWindowLen {
		return false
	}
	word, bit := back/64, uint64(1)<<(back%64)
	if w.bits[word]&bit != 0 {
		return false
	}
	w.bits[word] |= bit
	return true
}
