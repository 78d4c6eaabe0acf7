package httptransport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetsse/jetsse/cmd/jetsse/app"
	"github.com/jetsse/jetsse/pkg/sse"
)

// The server side of web-platform-tests/wpt eventsource/: what the
// browser's tests require of a server (request-*, format-*,
// eventsource-reconnect, eventsource-cross-origin), checked against the
// real HTTP handler with the binary's wiring.

const appOrigin = "http://app.test"

// publishToken is the test servers' publish token (16 bytes at least).
const publishToken = "conformance-token"

// TestWPTServerRules runs the rules on one server (each on its own topics).
func TestWPTServerRules(t *testing.T) {
	base := edgeServer(t)
	t.Run("stream format", func(t *testing.T) { testStreamFormat(t, base) })
	t.Run("reconnect with Last-Event-ID", func(t *testing.T) { testReconnectWithLastEventID(t, base) })
	t.Run("refusals stop EventSource", func(t *testing.T) { testRefusalsStopEventSource(t, base) })
	t.Run("cross origin", func(t *testing.T) { testCrossOrigin(t, base) })
}

// edgeServer runs jetsse in-process on random ports for one test.
func edgeServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	readyc := make(chan app.Ready, 1)
	args := []string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0",
		"--admin-addr", "", "--publish-token", publishToken, "--log-level", "error", "--heartbeat", "50ms", "--drain-timeout", "100ms",
		"--cors-origins", appOrigin}
	go func() { done <- app.Run(ctx, args, app.Options{OnReady: func(r app.Ready) { readyc <- r }}) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case r := <-readyc:
		return "http://" + r.HTTPAddr
	case err := <-done:
		t.Fatalf("jetsse did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("jetsse did not become ready")
	}
	return ""
}

func publish(t *testing.T, base, topic, typ, data string) uint64 {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"topic": topic, "event": typ, "data": data})
	req, _ := http.NewRequest(http.MethodPost, base+"/publish", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+publishToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("publish: %d %v", res.StatusCode, err)
	}
	seq, err := strconv.ParseUint(r.ID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// stream is one GET /events response being read: raw bytes and decoded
// events, as a browser would get them.
type stream struct {
	res    *http.Response
	cancel context.CancelFunc

	mu       sync.Mutex
	cond     *sync.Cond
	raw      []byte
	events   []sse.Event
	comments int
	dec      *sse.Decoder
	err      error
}

func open(t *testing.T, base, query string, header http.Header) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events?"+query, nil)
	req.Header.Set("Accept", "text/event-stream") // request-accept
	req.Header.Set("Cache-Control", "no-cache")   // request-cache-control
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{res: res, cancel: cancel}
	s.cond = sync.NewCond(&s.mu)
	t.Cleanup(s.close)
	if res.StatusCode != http.StatusOK {
		return s
	}
	s.dec = sse.NewDecoder(readerFunc(func(p []byte) (int, error) {
		n, err := res.Body.Read(p)
		s.mu.Lock()
		s.raw = append(s.raw, p[:n]...)
		s.cond.Broadcast()
		s.mu.Unlock()
		return n, err
	}))
	s.dec.OnComment = func([]byte) {
		s.mu.Lock()
		s.comments++
		s.cond.Broadcast()
		s.mu.Unlock()
	}
	go func() {
		for {
			ev, err := s.dec.Next()
			s.mu.Lock()
			if err != nil {
				s.err = err
				s.cond.Broadcast()
				s.mu.Unlock()
				return
			}
			s.events = append(s.events, ev)
			s.cond.Broadcast()
			s.mu.Unlock()
		}
	}()
	return s
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (s *stream) close() {
	s.cancel()
	s.res.Body.Close()
}

// wait waits until cond (called with s.mu held) holds.
func (s *stream) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timer := time.AfterFunc(15*time.Second, func() {
		s.mu.Lock()
		s.err = errors.Join(s.err, errors.New("timed out"))
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond() {
		if s.err != nil {
			t.Fatalf("waiting for %s: %v; got %q", what, s.err, s.raw)
		}
		s.cond.Wait()
	}
}

// data returns the events that are not jetsse's control events.
func (s *stream) data() []sse.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dataLocked()
}

func (s *stream) dataLocked() []sse.Event {
	var out []sse.Event
	for _, e := range s.events {
		if e.Type != "session" && e.Type != "gap" && e.Type != "takeover" {
			out = append(out, e)
		}
	}
	return out
}

func (s *stream) control(typ string) []sse.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sse.Event
	for _, e := range s.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

var idLine = regexp.MustCompile(`^id: ([0-9]{1,20})$`)

// testStreamFormat: the response and the bytes of a stream follow the rules
// the WPT format-* tests hold browsers to, so every parser sees the same
// events jetsse meant.
func testStreamFormat(t *testing.T, base string) {
	hazards := []struct{ typ, data string }{
		{"", "data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4"},
		{"", ":1\r:\x00\n:\r\n:" + strings.Repeat("x", 2048)},
		{"test", "\n\nid: 99\nevent: evil\nretry: 1\ndata: x\n\n"},
		{"", "\xef\xbb\xbfBOM first"},
		{"", ""},
		{"ok…", "ok…"},
	}
	var seqs []uint64
	for _, h := range hazards {
		seqs = append(seqs, publish(t, base, "c.1", h.typ, h.data))
	}
	s := open(t, base, "topic=c.>&lastEventId=0", nil)

	// request-*, format-mime-valid-bogus: 200, exactly text/event-stream
	// (a bogus type or any other status fails the EventSource), not cached.
	if s.res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", s.res.StatusCode)
	}
	for h, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := s.res.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	s.wait(t, "every event and two heartbeats", func() bool {
		n := 0
		for _, e := range s.events {
			if e.Type != "session" {
				n++
			}
		}
		return n == len(hazards) && s.comments >= 2
	})
	s.mu.Lock()
	raw := string(s.raw)
	s.mu.Unlock()

	// format-bom: the stream starts with retry, never a BOM; format-field-retry:
	// its value is ASCII digits.
	if !regexp.MustCompile(`^retry: [0-9]+\n\n`).MatchString(raw) {
		t.Errorf("the stream does not start with a retry line: %.40q", raw)
	}
	// format-field-parsing: CR, LF and CRLF all end lines, so no payload CR
	// may reach the wire; jetsse ends every line with LF alone.
	if strings.ContainsRune(raw, '\r') {
		t.Errorf("the stream holds a CR")
	}
	blocks := strings.Split(strings.TrimSuffix(raw, "\n"), "\n\n")
	for _, b := range blocks {
		lines := strings.Split(b, "\n")
		typ := ""
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "event: "); ok {
				typ = v
			}
		}
		for _, l := range lines {
			if strings.HasPrefix(l, "id") && !idLine.MatchString(l) {
				// format-field-id-3, -null: an empty id resets the client's
				// Last-Event-ID, one with NUL is ignored; a long one forces a
				// CORS preflight (cors-unsafe-last-event-id).
				t.Errorf("id line %q is not 1 to 20 digits", l)
			}
			if idLine.MatchString(l) && (typ == "session" || typ == "gap" || typ == "takeover") {
				t.Errorf("control event %q carries an id; it must leave the client's Last-Event-ID alone", b)
			}
		}
	}
	// format-comments: heartbeats are comment lines, ignored by clients.
	if !regexp.MustCompile(`(?m)^:.*\n`).MatchString(raw) {
		t.Errorf("no heartbeat comment in %q", raw)
	}
	// format-data-before-final-empty-line: every event is complete; what
	// the decoder got is exactly what was published.
	got := s.data()
	for i, h := range hazards {
		e := got[i]
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(h.data)
		if e.ID != strconv.FormatUint(seqs[i], 10) || e.Type != h.typ || string(e.Data) != want {
			t.Errorf("event %d = {%q %q %q}, want {%d %q %q}", i, e.ID, e.Type, e.Data, seqs[i], h.typ, want)
		}
	}
	if s.dec.LastEventID() != strconv.FormatUint(seqs[len(seqs)-1], 10) {
		t.Errorf("the client would resume from %q, want %d", s.dec.LastEventID(), seqs[len(seqs)-1])
	}
}

// testReconnectWithLastEventID: eventsource-reconnect and format-field-id —
// a browser reconnects with the Last-Event-ID header it last saw, and gets
// every later event exactly once.
func testReconnectWithLastEventID(t *testing.T, base string) {
	a := open(t, base, "topic=r", nil)
	a.wait(t, "the session event", func() bool { return len(a.events) > 0 })
	var want []string
	for i := range 3 {
		want = append(want, strconv.FormatUint(publish(t, base, "r", "", fmt.Sprint("first ", i)), 10))
	}
	a.wait(t, "3 events", func() bool { return len(a.events) == 4 })
	last := a.dec.LastEventID()
	cookie := a.res.Header.Get("Set-Cookie")
	a.close()
	for i := range 2 {
		want = append(want, strconv.FormatUint(publish(t, base, "r", "", fmt.Sprint("second ", i)), 10))
	}
	h := http.Header{"Last-Event-Id": {last}, "Cookie": {strings.Split(cookie, ";")[0]}}
	b := open(t, base, "topic=r", h)
	b.wait(t, "2 events", func() bool { return len(b.dataLocked()) >= 2 })
	var ids []string
	for _, e := range append(a.data(), b.data()...) {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ids across the reconnect: %v, want %v, each once", ids, want)
	}
	var sess struct {
		Resumed     bool   `json:"resumed"`
		LastEventID string `json:"last_event_id"`
	}
	if c := b.control("session"); len(c) != 1 || json.Unmarshal(c[0].Data, &sess) != nil || !sess.Resumed || sess.LastEventID != last {
		t.Errorf("session event %q: want resumed after %s", b.control("session"), last)
	}
}

// testRefusalsStopEventSource: request-status-error and
// format-mime-valid-bogus — any status but 200, or another Content-Type,
// makes a browser's EventSource give up (no reconnect loop), so a request
// that can never succeed is refused that way, with a JSON reason.
func testRefusalsStopEventSource(t *testing.T, base string) {
	for _, tc := range []struct {
		query  string
		header http.Header
	}{
		{"", nil},
		{"topic=a..b", nil},
		{"topic=a&lastEventId=abc", nil},
		{"topic=a", http.Header{"Last-Event-Id": {"-1"}}},
		{"topic=a", http.Header{"Last-Event-Id": {strings.Repeat("9", 129)}}},
	} {
		s := open(t, base, tc.query, tc.header)
		body, _ := io.ReadAll(s.res.Body)
		if s.res.StatusCode != http.StatusBadRequest || s.res.Header.Get("Content-Type") != "application/json" || !json.Valid(body) {
			t.Errorf("%q %v: %d %q %q, want 400 with a JSON error", tc.query, tc.header, s.res.StatusCode, s.res.Header.Get("Content-Type"), body)
		}
	}
}

// testCrossOrigin: eventsource-cross-origin and request-credentials — for
// an allowed origin, a credentialed request (EventSource withCredentials,
// or jetsse.js with credentials "include") is answered with that exact
// origin and Allow-Credentials, and the preflight that jetsse.js's headers
// cause is answered.
func testCrossOrigin(t *testing.T, base string) {
	req, _ := http.NewRequest(http.MethodOptions, base+"/events?topic=x", nil)
	req.Header.Set("Origin", appOrigin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "jetsse-session,last-event-id")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
	if res.StatusCode/100 != 2 || res.Header.Get("Access-Control-Allow-Origin") != appOrigin ||
		res.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(allowed, "jetsse-session") || !strings.Contains(allowed, "last-event-id") {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
	s := open(t, base, "topic=x", http.Header{"Origin": {appOrigin}, "Jetsse-Session": {"new"}})
	h := s.res.Header
	if h.Get("Access-Control-Allow-Origin") != appOrigin || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Jetsse-Session") || h.Get("Jetsse-Session") == "" {
		t.Errorf("stream response headers: %v", h)
	}
	other := open(t, base, "topic=x", http.Header{"Origin": {"http://evil.test"}})
	if other.res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an unlisted origin was allowed: %v", other.res.Header)
	}
}
