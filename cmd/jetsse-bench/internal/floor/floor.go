// Package floor is the raw-socket floor: the cheapest SSE server that
// writes to the same kind of sockets the same bytes jetsse writes for its
// live path, with the same system call (send(2), see platform.WriteFD),
// so that a fan-out run against it shows what loopback's writes cost on a
// machine, and a run against jetsse its distance from that floor
// (docs/benchmarks.md, "Raw-socket floor").
//
// What it keeps of jetsse: POST /publish (optional: the same body, answer
// and JetStream publish, none of the checks but the token), the response head of a hijacked HTTP/1.1
// stream (the same header names, a session cookie and Jetsse-Session
// header of the same shape), the retry: field and the session event, and
// per event the frame of pkg/sse (id: <stream sequence>, event: <type>
// when the publisher set one, data: lines), read from the stream by the
// same ordered consumer jetsse's live path uses (a fanout.Source). What it
// leaves out: sessions and positions (every connection is live only, unless
// Config.Ring keeps events to resume from), queues, slow-client policy,
// write deadlines, heartbeats, gaps, metrics, several topics or wildcards
// per connection. Events that arrive while a
// write round is under way are written together in the next round, as
// jetsse writes what a connection has queued in one write.
//
// It is a measuring instrument, not a server: a client that stops
// reading without closing its connection stalls the writer it belongs to.
package floor

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/session"
	"github.com/jetsse/jetsse/pkg/sse"
)

// Config configures a Server.
type Config struct {
	// Source is the stream; the server follows it from its tail.
	Source fanout.Source
	// Retry is written as the retry: field (jetsse's default 2s, with the
	// same ±50% jitter).
	Retry time.Duration
	// Writers is the number of goroutines writing to connections, each
	// owning a share of them (default GOMAXPROCS).
	Writers int
	// Publish, when set, serves POST /publish as jetsse's body and answer
	// ({"id":"<seq>"}), for runs that publish over HTTP: it stores the
	// event and returns its stream sequence.
	Publish func(ctx context.Context, topic, eventType string, data []byte) (uint64, error)
	// PublishToken, when set, is the bearer token POST /publish wants.
	PublishToken string
	// Ring, when set, keeps the last Ring events in memory: a connection
	// with Last-Event-ID gets those after it before the live ones (and a
	// session token the floor signed is told it was resumed), the cheapest
	// resume there is, for reconnect storms. Nothing is checked: no gaps,
	// no session records, no positions.
	Ring int
}

// Server is the floor. Make it with New, serve its Handler, and Run it;
// Run owns every goroutine the server starts and waits for them.
type Server struct {
	cfg  Config
	keys *session.Keyring

	mu      sync.Mutex
	pending round         // frames not yet written
	fresh   []ringEvent   // with Ring: events of pending, for the ring
	ring    []ringEvent   // with Ring: the last events written, oldest first
	wake    chan struct{} // capacity 1: pending has frames
	closed  bool

	shards []*shard
	next   int // the shard the next connection joins (under mu)
	conns  sync.WaitGroup
}

// New makes a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("floor: no source")
	}
	if cfg.Writers <= 0 {
		cfg.Writers = runtime.GOMAXPROCS(0)
	}
	key, err := session.NewRandomKey()
	if err != nil {
		return nil, err
	}
	keys, err := session.NewKeyring([]byte(key))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, keys: keys, pending: newRound(cfg.Ring > 0), wake: make(chan struct{}, 1)}
	for range cfg.Writers {
		s.shards = append(s.shards, &shard{conns: map[*conn]struct{}{}, round: make(chan round), done: make(chan struct{})})
	}
	return s, nil
}

// Run follows the stream from its tail and writes every event to the
// connections on its topic until ctx ends (nil) or the source fails. When
// it returns, every connection is closed and every goroutine has ended.
// started is called once the source reads.
func (s *Server) Run(ctx context.Context, started func()) error {
	v, err := s.cfg.Source.View(ctx)
	if err != nil {
		return fmt.Errorf("floor: reading the stream: %w", err)
	}
	for _, sh := range s.shards {
		go sh.serve() // ends when its round channel is closed, below
	}
	ctx, cancel := context.WithCancel(ctx)
	flushed := make(chan struct{})
	go func() { defer close(flushed); s.flush(ctx) }()
	err = s.cfg.Source.Follow(ctx, v.Last+1, started, s.add)
	cancel()
	<-flushed // no round is under way now

	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for _, sh := range s.shards {
		close(sh.round)
		<-sh.done
		sh.closeAll()
	}
	s.conns.Wait()
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return nil
}

// round is the frames of one write round by topic, and (with Ring) each
// topic's last event in it.
type round struct {
	frames map[string][]byte
	last   map[string]uint64
}

func newRound(ring bool) round {
	r := round{frames: map[string][]byte{}}
	if ring {
		r.last = map[string]uint64{}
	}
	return r
}

// ringEvent is one event kept for resuming.
type ringEvent struct {
	seq   uint64
	topic string
	frame []byte
}

// add queues an event's frame for its topic. The source calls it from one
// goroutine.
func (s *Server) add(m fanout.Msg) {
	s.mu.Lock()
	if s.cfg.Ring > 0 {
		f := sse.AppendEventWithSeq(nil, m.Seq, m.Type, m.Data)
		s.pending.frames[m.Topic] = append(s.pending.frames[m.Topic], f...)
		s.pending.last[m.Topic] = m.Seq
		s.fresh = append(s.fresh, ringEvent{m.Seq, m.Topic, f})
	} else {
		s.pending.frames[m.Topic] = sse.AppendEventWithSeq(s.pending.frames[m.Topic], m.Seq, m.Type, m.Data)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// flush runs write rounds until ctx ends: it takes every pending frame and
// has each shard write them to its connections, all shards at once.
func (s *Server) flush(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.pending
		s.pending = newRound(s.cfg.Ring > 0)
		if s.cfg.Ring > 0 { // in the ring from now on: a joining connection gets them there
			s.ring = append(s.ring, s.fresh...)
			s.fresh = s.fresh[:0]
			if over := len(s.ring) - s.cfg.Ring; over > 0 {
				clear(s.ring[:over])
				s.ring = s.ring[over:]
			}
		}
		s.mu.Unlock()
		for _, sh := range s.shards {
			sh.round <- batch
		}
		for _, sh := range s.shards {
			<-sh.done
		}
	}
}

// Handler serves GET /events?topic=<t> (one topic, no wildcards).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", s.serveEvents)
	if s.cfg.Publish != nil {
		mux.HandleFunc("POST /publish", s.servePublish)
	}
	return mux
}

// servePublish stores one event: jetsse's POST /publish body and answer,
// with none of its checks but the token and a non-empty topic.
func (s *Server) servePublish(w http.ResponseWriter, r *http.Request) {
	if tok := s.cfg.PublishToken; tok != "" &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+tok)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var req struct {
		Topic string `json:"topic"`
		Event string `json:"event"`
		Data  string `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Topic == "" {
		http.Error(w, "a JSON object with a topic and data", http.StatusBadRequest)
		return
	}
	seq, err := s.cfg.Publish(r.Context(), req.Topic, req.Event, []byte(req.Data))
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	b := strconv.AppendUint(append(make([]byte, 0, 32), `{"id":"`...), seq, 10)
	_, _ = w.Write(append(b, "\"}\n"...))
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	topics := r.URL.Query()["topic"]
	if len(topics) != 1 || topics[0] == "" {
		http.Error(w, "the floor serves exactly one topic", http.StatusBadRequest)
		return
	}
	// With a ring, a token the floor signed resumes its session, and
	// Last-Event-ID says where from.
	var after uint64
	resume, lastID := false, ""
	id, err := s.keys.Verify(r.Header.Get("Jetsse-Session"))
	if s.cfg.Ring > 0 && err == nil {
		resume = true
		if lastID = r.Header.Get("Last-Event-ID"); lastID != "" {
			after, _ = strconv.ParseUint(lastID, 10, 64)
		}
	} else if id, err = session.NewID(rand.Reader); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	token := s.keys.Sign(id)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Jetsse-Session", token)
	http.SetCookie(w, &http.Cookie{Name: "jetsse_session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "the floor needs plain HTTP/1.1: "+err.Error(), http.StatusHTTPVersionNotSupported)
		return
	}
	b := append(make([]byte, 0, 1024), "HTTP/1.1 200 OK\r\n"...)
	b = appendHeader(b, h)
	b = append(b, "\r\n"...)
	b = sse.AppendRetry(b, jitter(s.cfg.Retry))
	data := append([]byte(`{"session":"`), id.String()...)
	data = append(data, `","resumed":`...)
	data = strconv.AppendBool(data, resume)
	data = append(data, `,"last_event_id":`...)
	data = strconv.AppendQuote(data, lastID)
	b = sse.AppendEvent(b, sse.Event{Type: "session", Data: append(data, '}')})

	c := newConn(nc, topics[0])
	var catchUp func([]byte) []byte
	if lastID != "" {
		catchUp = func(b []byte) []byte { return s.eventsAfter(b, c, after) }
	}
	// The head goes out under the shard's lock, so that the session event
	// precedes every event written to the connection.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	sh := s.shards[s.next%len(s.shards)]
	s.next++
	s.conns.Add(1)
	s.mu.Unlock()
	if !sh.join(c, b, catchUp) {
		s.conns.Done()
		return
	}
	// Wait for the client to hang up (it sends nothing more), then leave.
	go func() {
		defer s.conns.Done()
		var buf [64]byte
		for {
			if _, err := nc.Read(buf[:]); err != nil {
				break
			}
		}
		sh.leave(c)
	}()
}

// eventsAfter appends the ring's events on c's topic after seq, and notes
// in c the ring's last event: rounds up to it are not written to c again.
// The caller holds c's shard's lock (no round under way for it).
func (s *Server) eventsAfter(b []byte, c *conn, seq uint64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.ring, seq+1, func(e ringEvent, seq uint64) int { return cmp.Compare(e.seq, seq) })
	for _, e := range s.ring[i:] {
		if e.topic == c.topic {
			b = append(b, e.frame...)
		}
	}
	if n := len(s.ring); n > 0 {
		c.after = s.ring[n-1].seq
	}
	return b
}

// appendHeader appends h as net/http writes it (sorted, one line each).
func appendHeader(b []byte, h http.Header) []byte {
	var w headerWriter
	_ = h.Write(&w)
	return append(b, w...)
}

type headerWriter []byte

func (w *headerWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

// jitter returns d ± 50%, as jetsse's retry: field.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + mrand.N(d)
}
