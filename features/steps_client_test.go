package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"

	"github.com/jetsse/jetsse/pkg/session"
)

// client returns a named client, creating it on the default server.
func (w *world) client(name string) (*sseClient, error) {
	if c := w.clients[name]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no client %q", name)
}

func (w *world) newClient(name, serverName, topics string) (*sseClient, error) {
	if serverName == "" {
		s, err := w.defaultServer()
		if err != nil {
			return nil, err
		}
		serverName = s.name
	}
	if w.servers[serverName] == nil {
		return nil, fmt.Errorf("no server %q", serverName)
	}
	old := w.clients[name]
	c := newSSEClient(name, func() string { return w.servers[serverName].base() }, splitList(topics))
	if old != nil {
		old.close()
		c.token, c.cookie, c.lastEventID, c.firstToken = old.token, old.cookie, old.lastEventID, old.firstToken
		c.events, c.control, c.connections = old.events, old.control, old.connections
	}
	w.clients[name] = c
	if _, ok := w.since[name]; !ok {
		w.since[name] = len(w.published)
	}
	return c, nil
}

// open connects c and, on success, waits for its session event, so what is
// published afterwards counts as published after it subscribed.
func (w *world) open(c *sseClient, o connectOptions) error {
	c.mu.Lock()
	before := countType(c.control, "session")
	c.mu.Unlock()
	if err := c.connect(o); err != nil {
		return err
	}
	c.mu.Lock()
	status, body := c.status, c.errBody
	c.mu.Unlock()
	w.status, w.body = status, body
	if status != http.StatusOK {
		return nil
	}
	return c.waitFor(waitTimeout, "the session event", func() bool { return countType(c.control, "session") > before })
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

func strp(s string) *string { return &s }

func (w *world) registerClients(sc *godog.ScenarioContext) {
	subscribe := func(name, topics, serverName string, o connectOptions) error {
		c, err := w.newClient(name, serverName, topics)
		if err != nil {
			return err
		}
		if err := w.open(c, o); err != nil {
			return err
		}
		if w.status != http.StatusOK {
			return fmt.Errorf("subscribe answered %d: %s", w.status, w.body)
		}
		return nil
	}
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)"$`, func(name, topics string) error {
		return subscribe(name, topics, "", connectOptions{})
	})
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" and reconnects like EventSource$`, func(name, topics string) error {
		return subscribe(name, topics, "", connectOptions{autoReconnect: true})
	})
	sc.Step(`^client "(\w+)" was never disconnected$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.connections != 1 || !c.connected {
			return fmt.Errorf("client %q: %d connections, connected %v (%v)", name, c.connections, c.connected, c.endErr)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" on "([^"]*)"$`, func(name, topics, srv string) error {
		return subscribe(name, topics, srv, connectOptions{})
	})
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with Last-Event-ID "([^"]*)"$`, func(name, topics, id string) error {
		return subscribe(name, topics, "", connectOptions{lastEventID: strp(id)})
	})
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with its session cookie$`, func(name, topics string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return subscribe(name, topics, "", connectOptions{cookie: c.cookie})
	})
	withSessionOf := func(name, topics, srv, other string) error {
		o, err := w.client(other)
		if err != nil {
			return err
		}
		if err := subscribe(name, topics, srv, connectOptions{cookie: o.cookie}); err != nil {
			return err
		}
		w.since[name] = len(w.published)
		return nil
	}
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with the session of client "(\w+)"$`, func(name, topics, other string) error {
		return withSessionOf(name, topics, "", other)
	})
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" on "([^"]*)" with the session of client "(\w+)"$`, withSessionOf)
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" presenting (.+)$`, func(name, topics, what string) error {
		tok, err := w.forgedToken(what)
		if err != nil {
			return err
		}
		return subscribe(name, topics, "", connectOptions{token: tok})
	})

	sc.Step(`^client "(\w+)" has received (\d+) events?$`, func(name string, n int) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		if err := c.waitFor(waitTimeout, fmt.Sprintf("%d events", n), func() bool { return len(c.events) >= n }); err != nil {
			return err
		}
		if got := len(c.eventIDs()); got != n {
			return fmt.Errorf("client %q has %d events, want %d: %v", name, got, n, c.eventIDs())
		}
		return nil
	})
	sc.Step(`^client "(\w+)" disconnects$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.close()
		return nil
	})
	reconnect := func(name string, o func(c *sseClient) connectOptions) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.close()
		if err := w.open(c, o(c)); err != nil {
			return err
		}
		if w.status != http.StatusOK {
			return fmt.Errorf("reconnect answered %d: %s", w.status, w.body)
		}
		return nil
	}
	sc.Step(`^client "(\w+)" reconnects with its Last-Event-ID$`, func(name string) error {
		return reconnect(name, func(c *sseClient) connectOptions {
			return connectOptions{lastEventID: strp(c.lastEventID), cookie: c.cookie}
		})
	})
	sc.Step(`^client "(\w+)" reconnects with its Last-Event-ID in the query$`, func(name string) error {
		return reconnect(name, func(c *sseClient) connectOptions {
			return connectOptions{lastEventIDQuery: strp(c.lastEventID), cookie: c.cookie}
		})
	})
	sc.Step(`^client "(\w+)" reconnects with its session cookie only$`, func(name string) error {
		return reconnect(name, func(c *sseClient) connectOptions { return connectOptions{cookie: c.cookie} })
	})
	sc.Step(`^client "(\w+)" reconnects to "([^"]*)" with its session cookie only$`, func(name, srv string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		since := w.since[name]
		if _, err := w.newClient(name, srv, strings.Join(c.topics, ",")); err != nil {
			return err
		}
		w.since[name] = since
		return reconnect(name, func(c *sseClient) connectOptions { return connectOptions{cookie: c.cookie} })
	})
	sc.Step(`^client "(\w+)" reconnects with its session header only$`, func(name string) error {
		return reconnect(name, func(c *sseClient) connectOptions { return connectOptions{token: c.token} })
	})
	sc.Step(`^client "(\w+)" reconnects with its session header and Last-Event-ID "([^"]*)"$`, func(name, id string) error {
		return reconnect(name, func(c *sseClient) connectOptions { return connectOptions{token: c.token, lastEventID: strp(id)} })
	})
	sc.Step(`^client "(\w+)" refreshes (\d+) times while events are published to "([^"]*)"$`, func(name string, n int, topic string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		stop, done := make(chan struct{}), make(chan error, 1)
		js, err := w.js()
		if err != nil {
			return err
		}
		var mu sync.Mutex
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				data := fmt.Sprintf("refresh %d", i)
				ack, err := js.Publish(context.Background(), "events."+topic, []byte(data))
				if err != nil {
					done <- err
					return
				}
				mu.Lock()
				w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Data: data})
				mu.Unlock()
			}
		}()
		var ferr error
		for range n {
			// A refresh: the page goes away and comes back with its cookie only.
			c.close()
			if ferr = w.open(c, connectOptions{cookie: c.cookie}); ferr != nil {
				break
			}
		}
		close(stop)
		if err := <-done; err != nil {
			return err
		}
		return ferr
	})
	sc.Step(`^client "(\w+)" has received every event published to its topics since it subscribed, at least once, in order on each connection$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		want, err := w.expectedFor(c)
		if err != nil {
			return err
		}
		last := strconv.FormatUint(want[len(want)-1].Seq, 10)
		if err := c.waitFor(waitTimeout, "event "+last, func() bool {
			return len(c.events) > 0 && c.events[len(c.events)-1].ID == last
		}); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		seen := map[string]bool{}
		prev := map[int]uint64{}
		for _, e := range c.events {
			v, _ := strconv.ParseUint(e.ID, 10, 64)
			if v <= prev[e.Conn] {
				return fmt.Errorf("connection %d of %q went back from %d to %d", e.Conn, name, prev[e.Conn], v)
			}
			prev[e.Conn] = v
			seen[e.ID] = true
		}
		var missing []uint64
		for _, p := range want {
			if !seen[strconv.FormatUint(p.Seq, 10)] {
				missing = append(missing, p.Seq)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("client %q never received %d of %d events: %v", name, len(missing), len(want), missing)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" notices its connection ended$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return c.waitFor(waitTimeout, "the connection to end", func() bool { return c.endErr != nil })
	})
	sc.Step(`^client "(\w+)" stays connected for (\d+) seconds$`, func(name string, secs int) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		time.Sleep(time.Duration(secs) * time.Second) // the duration is what the scenario is about
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.connected {
			return fmt.Errorf("client %q was disconnected: %v", name, c.endErr)
		}
		return nil
	})

	// What the client was told.
	sc.Step(`^client "(\w+)" is told the session was resumed from its last event ID$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return w.expectSession(c, true, c.lastEventIDAtConnect())
	})
	sc.Step(`^client "(\w+)" is told the session was resumed from "([^"]*)"$`, func(name, id string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return w.expectSession(c, true, id)
	})
	sc.Step(`^client "(\w+)" is told the session was resumed$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		s, err := c.session()
		if err != nil {
			return err
		}
		if !s.Resumed {
			return fmt.Errorf("session event %+v: not resumed", s)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" is told the session is new, live only$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return w.expectSession(c, false, "")
	})
	sc.Step(`^client "(\w+)" is told the session is new, starting after "([^"]*)"$`, func(name, id string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return w.expectSession(c, false, id)
	})

	// What the client received.
	sc.Step(`^client "(\w+)" has received every event published to its topics since it subscribed, exactly once and in order$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		want, err := w.expectedFor(c)
		if err != nil {
			return err
		}
		if err := c.waitFor(waitTimeout, fmt.Sprintf("%d events", len(want)), func() bool { return len(c.events) >= len(want) }); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.events) != len(want) {
			return fmt.Errorf("client %q received %d events, want %d:\n got %v\nwant %v", name, len(c.events), len(want), ids(c.events), pubIDs(want))
		}
		for i, p := range want {
			got := c.events[i]
			if got.ID != strconv.FormatUint(p.Seq, 10) || got.Data != p.Data || got.Type != p.Type {
				return fmt.Errorf("event %d of client %q = %+v, want %+v\n got %v\nwant %v", i+1, name, got, p, ids(c.events), pubIDs(want))
			}
		}
		return nil
	})
	sc.Step(`^client "(\w+)" has received the events with ids "([^"]*)"$`, func(name, list string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return c.hasIDs(splitList(list))
	})
	sc.Step(`^client "(\w+)" received events on exactly "([^"]*)"$`, func(name, list string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		var got []string
		bySeq := map[string]string{}
		for _, p := range w.published {
			bySeq[strconv.FormatUint(p.Seq, 10)] = p.Topic
		}
		c.mu.Lock()
		for _, e := range c.events {
			got = append(got, bySeq[e.ID])
		}
		c.mu.Unlock()
		if want := splitList(list); !slices.Equal(got, want) {
			return fmt.Errorf("client %q received events on %v, want %v", name, got, want)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" has received a gapless run of events ending at id (\d+) that starts at or before id (\d+)$`, func(name string, last, first uint64) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		if err := c.waitFor(waitTimeout, fmt.Sprintf("event %d", last), func() bool {
			return len(c.events) > 0 && c.events[len(c.events)-1].ID == strconv.FormatUint(last, 10)
		}); err != nil {
			return err
		}
		got := c.eventIDs()
		for i := 1; i < len(got); i++ {
			if got[i] != got[i-1]+1 {
				return fmt.Errorf("client %q ids %v are not gapless and increasing", name, got)
			}
		}
		if got[0] > first {
			return fmt.Errorf("client %q ids %v start after %d", name, got, first)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" receives that event with its stream sequence as id, type "([^"]*)" and data `+quoted+`$`, func(name, typ, data string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		data, err = unquote(data)
		if err != nil {
			return err
		}
		p := w.published[len(w.published)-1]
		id := strconv.FormatUint(p.Seq, 10)
		return c.waitFor(waitTimeout, "event "+id, func() bool {
			return slices.Contains(c.events, received{ID: id, Type: typ, Data: data, Conn: c.connections})
		})
	})
	sc.Step(`^event (\d+) of client "(\w+)" has data `+quoted+` and type `+quoted+`$`, func(i int, name, data, typ string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		if data, err = unquote(data); err != nil {
			return err
		}
		if typ, err = unquote(typ); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if i > len(c.events) {
			return fmt.Errorf("client %q has %d events", name, len(c.events))
		}
		if e := c.events[i-1]; e.Data != data || e.Type != typ {
			return fmt.Errorf("event %d = data %q type %q, want data %q type %q", i, e.Data, e.Type, data, typ)
		}
		return nil
	})
	sc.Step(`^every event of client "(\w+)" has its stream sequence as id$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		want, _ := w.expectedFor(c)
		got := c.eventIDs()
		if len(got) != len(want) {
			return fmt.Errorf("got %v, published %v", got, pubIDs(want))
		}
		for i := range got {
			if got[i] != want[i].Seq {
				return fmt.Errorf("got %v, published %v", got, pubIDs(want))
			}
		}
		return nil
	})
	sc.Step(`^client "(\w+)" receives at least (\d+) heartbeat comments$`, func(name string, n int) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return c.waitFor(waitTimeout, fmt.Sprintf("%d comments", n), func() bool { return c.comments >= n })
	})
	sc.Step(`^the response to client "(\w+)" has header "([^"]*)" "([^"]*)"$`, func(name, h, v string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		if got := c.header.Get(h); got != v {
			return fmt.Errorf("header %s = %q, want %q", h, got, v)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" got a session token as a cookie and a header$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		if c.token == "" || c.token != c.cookie {
			return fmt.Errorf("header token %q, cookie %q", c.token, c.cookie)
		}
		for _, sc := range c.header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, "jetsse_session=") {
				for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
					if !strings.Contains(sc, attr) {
						return fmt.Errorf("cookie %q lacks %s", sc, attr)
					}
				}
				return nil
			}
		}
		return errors.New("no jetsse_session cookie")
	})
	sc.Step(`^the stream of client "(\w+)" starts with a retry between (\d+) and (\d+) ms, then a session event$`, func(name string, lo, hi int) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.mu.Lock()
		raw := string(c.raw)
		c.mu.Unlock()
		var ms int
		rest, ok := strings.CutPrefix(raw, "retry: ")
		if !ok {
			return fmt.Errorf("stream starts with %.40q", raw)
		}
		if _, err := fmt.Sscanf(rest, "%d\n\nevent: session\n", &ms); err != nil {
			return fmt.Errorf("stream starts with %.80q: %v", raw, err)
		}
		if ms < lo || ms > hi {
			return fmt.Errorf("retry %d ms not within [%d, %d]", ms, lo, hi)
		}
		if !strings.Contains(raw, "\n\nevent: session\ndata: {") {
			return fmt.Errorf("no session event after retry: %.120q", raw)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" receives a gap with last_event_id "(\d+)" and first_available "(\d+)" before any replayed event$`, w.expectGap)
	sc.Step(`^client "(\w+)" receives a gap from "(\d+)" to the stream's first sequence before any replayed event$`, func(name, last string) error {
		first, err := w.streamFirstSeq()
		if err != nil {
			return err
		}
		w.gapFirst = first
		return w.expectGap(name, last, strconv.FormatUint(first, 10))
	})
	sc.Step(`^client "(\w+)" has received every event still in the stream after the gap, in order$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		var want []string
		for _, p := range w.published[w.since[name]:] {
			if p.Seq < w.gapFirst && len(want) < 2 {
				want = append(want, strconv.FormatUint(p.Seq, 10)) // before the disconnect
			} else if p.Seq >= w.gapFirst {
				want = append(want, strconv.FormatUint(p.Seq, 10))
			}
		}
		return c.hasIDs(want)
	})
	sc.Step(`^client "(\w+)" got no gap event$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if n := countType(c.control, "gap"); n > 0 {
			return fmt.Errorf("client %q got %d gap events: %v", name, n, c.control)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" receives a takeover event for its session and its connection ends$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		if err := c.waitFor(waitTimeout, "a takeover and the end", func() bool {
			return countType(c.control, "takeover") > 0 && c.endErr != nil
		}); err != nil {
			return err
		}
		s, err := c.session()
		if err != nil {
			return err
		}
		t, _ := c.lastControl("takeover")
		var d struct{ Session string }
		if err := json.Unmarshal([]byte(t.Data), &d); err != nil || d.Session != s.Session {
			return fmt.Errorf("takeover data %q, session %q", t.Data, s.Session)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" has a different session than before$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		var sessions []string
		for _, r := range c.control {
			if r.Type == "session" {
				var s sessionData
				_ = json.Unmarshal([]byte(r.Data), &s)
				sessions = append(sessions, s.Session)
			}
		}
		if len(sessions) < 2 || sessions[len(sessions)-1] == sessions[len(sessions)-2] {
			return fmt.Errorf("sessions %v", sessions)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" has a session different from client "(\w+)"$`, func(a, b string) error {
		ca, err := w.client(a)
		if err != nil {
			return err
		}
		cb, err := w.client(b)
		if err != nil {
			return err
		}
		sa, err := ca.session()
		if err != nil {
			return err
		}
		sb, err := cb.session()
		if err != nil {
			return err
		}
		if sa.Session == sb.Session {
			return fmt.Errorf("both have session %s", sa.Session)
		}
		return nil
	})
	sc.Step(`^client "(\w+)" gets a new retry value and its connection ends$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		return c.waitFor(waitTimeout, "a second retry and the end", func() bool { return len(c.retries) >= 2 && c.endErr != nil })
	})

	// Malformed requests.
	sc.Step(`^a client requests "([^"]*)"$`, func(path string) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		req, err := http.NewRequest(http.MethodGet, s.base()+path, nil)
		if err != nil {
			return err
		}
		return w.do(req)
	})
	sc.Step(`^a client subscribes to (\d+) topics$`, func(n int) error {
		q := url.Values{}
		for i := range n {
			q.Add("topic", fmt.Sprintf("t%d", i))
		}
		return w.rawSubscribe(q.Encode(), nil)
	})
	sc.Step(`^a client subscribes to a topic of (\d+) bytes$`, func(n int) error {
		return w.rawSubscribe("topic="+strings.Repeat("a", n), nil)
	})
	sc.Step(`^a client subscribes to "([^"]*)" with Last-Event-ID header "([^"]*)"$`, func(topic, id string) error {
		return w.rawSubscribe("topic="+url.QueryEscape(topic), http.Header{"Last-Event-Id": {id}})
	})
}

// rawSubscribe sends one subscribe request and keeps the status and, for a
// refusal, the body; a stream is closed at once.
func (w *world) rawSubscribe(query string, h http.Header) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodGet, s.base()+"/events?"+query, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w.status, w.header = resp.StatusCode, resp.Header
	if resp.StatusCode != http.StatusOK {
		var b strings.Builder
		_, _ = fmt.Fprint(&b, readAllLimited(resp))
		w.body = b.String()
	}
	return nil
}

func (c *sseClient) lastEventIDAtConnect() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The last id received before the latest session event.
	n := c.connections
	last := ""
	for _, e := range c.events {
		if e.Conn < n {
			last = e.ID
		}
	}
	return last
}

func (w *world) expectSession(c *sseClient, resumed bool, after string) error {
	s, err := c.session()
	if err != nil {
		return err
	}
	if s.Resumed != resumed || s.LastEventID != after {
		return fmt.Errorf("client %q was told %+v, want resumed=%v last_event_id=%q", c.name, s, resumed, after)
	}
	if _, err := session.ParseID(s.Session); err != nil {
		return fmt.Errorf("session id %q: %w", s.Session, err)
	}
	return nil
}

func ids(rs []received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func pubIDs(ps []published) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strconv.FormatUint(p.Seq, 10)
	}
	return out
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

// expectGap waits for client name's gap event and checks it says last and
// first, with exactly DESIGN's JSON, and that no event came before it.
func (w *world) expectGap(name, last, first string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if err := c.waitFor(waitTimeout, "a gap event", func() bool { return countType(c.control, "gap") > 0 }); err != nil {
		return err
	}
	g, _ := c.lastControl("gap")
	if want := fmt.Sprintf(`{"last_event_id":"%s","first_available":"%s"}`, last, first); g.Data != want {
		return fmt.Errorf("gap %s, want %s", g.Data, want)
	}
	c.mu.Lock()
	raw := string(c.raw)
	c.mu.Unlock()
	gapAt := strings.Index(raw, "event: gap")
	if idAt := strings.Index(raw, "\nid: "); idAt >= 0 && idAt < gapAt {
		return fmt.Errorf("an event came before the gap: %.300q", raw)
	}
	return nil
}
