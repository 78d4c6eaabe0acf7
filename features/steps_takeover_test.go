package features

// Steps of takeover.feature: one connection per session, and a takeover
// storm.

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
)

func (w *world) registerTakeover(sc *godog.ScenarioContext) {
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with the session of client "(\w+)"$`, w.clientSubscribesWithSessionOf)
	sc.Step(`^clients "(\w+)" and "(\w+)" alternate on the session (\d+) times while events are published to "([^"]*)"$`, w.takeoverStorm)
	sc.Step(`^every replaced connection received a takeover event$`, w.everyReplacedConnectionWasTold)
	sc.Step(`^the last connection receives every event published after it attached$`, w.lastConnectionReceivesEveryEvent)
	sc.Step(`^the union of what both clients received has every event published to "([^"]*)" during the storm$`, w.stormLostNoEvent)
	sc.Step(`^within (\d+) seconds the server has exactly (\d+) sessions?, no session consumer and (\d+) connections?$`, w.serverSettlesWithin)
	sc.Step(`^within (\d+) seconds the server's goroutines return to their level before the storm$`, w.goroutinesReturnWithin)
}

func (w *world) clientSubscribesWithSessionOf(name, topics, other string) error {
	return w.subscribeWithSessionOf(name, topics, "", other)
}

// stormState records a takeover storm for its Then steps.
type stormState struct {
	clients        []string
	last           string
	start          int // index into published when the storm began
	lastAttachedAt int // index into published when the last connection attached
	// lastFrom is the Last-Event-ID the last connection presented ("" if
	// none): the position it resumes from.
	lastFrom   string
	goroutines int
}

// takeoverStorm alternates two clients on one session n times while a
// publisher keeps publishing, and goes on publishing until the last
// connection got 20 events.
func (w *world) takeoverStorm(a, b string, n int, topic string) error {
	first, err := w.client(a)
	if err != nil {
		return err
	}
	// The test's own connections are made first and its idle HTTP ones
	// closed, so that the count is the server's.
	if _, err := w.js(); err != nil {
		return err
	}
	w.storm = stormState{clients: []string{a, b}, start: len(w.published), goroutines: serverGoroutines()}
	if _, err := w.newClient(b, "", strings.Join(first.topics, ",")); err != nil {
		return err
	}
	w.clients[b].cookie = first.cookie
	p, err := w.startPublisher(topic, "storm", 2*time.Millisecond)
	if err != nil {
		return err
	}
	err = w.alternate([]string{b, a}, n, p)
	if err == nil {
		last := w.clients[w.storm.last]
		err = last.waitFor(waitTimeout, "events on the last connection", func() bool {
			k := 0
			for _, e := range last.events {
				if e.Conn == last.connections {
					k++
				}
			}
			return k >= 20
		})
	}
	if perr := p.halt(); err == nil {
		err = perr
	}
	return err
}

// alternate attaches the clients names[0] and names[1] to the session in
// turn, n times, each with the cookie the other was last given; a replaced
// connection must be told before the next attach.
func (w *world) alternate(names []string, n int, p *publisher) error {
	for i := range n {
		c := w.clients[names[i%2]]
		other := w.clients[names[(i+1)%2]]
		c.cookie = other.cookie // one cookie jar: the session's token
		// A browser tab keeps its own Last-Event-ID, so reconnects present it.
		o := connectOptions{cookie: c.cookie}
		if c.lastEventID != "" {
			o.lastEventID = strp(c.lastEventID)
		}
		from := c.lastEventID
		if err := w.open(c, o); err != nil {
			return err
		}
		// The replaced connection is told before its tab reconnects.
		if err := waitReplaced(other); err != nil {
			return err
		}
		p.locked(func() {
			w.storm.last = c.name
			w.storm.lastFrom = from
			w.storm.lastAttachedAt = len(w.published)
		})
	}
	return nil
}

// waitReplaced waits, if c is connected, for a takeover event on its
// current connection.
func waitReplaced(c *sseClient) error {
	c.mu.Lock()
	conn, live := c.connections, c.connected
	c.mu.Unlock()
	if !live {
		return nil
	}
	return c.waitFor(waitTimeout, "a takeover", func() bool {
		for _, r := range c.control {
			if r.Type == "takeover" && r.Conn == conn {
				return true
			}
		}
		return false
	})
}

func (w *world) everyReplacedConnectionWasTold() error {
	for _, name := range w.storm.clients {
		c := w.clients[name]
		c.mu.Lock()
		takeovers := map[int]bool{}
		for _, r := range c.control {
			if r.Type == "takeover" {
				takeovers[r.Conn] = true
			}
		}
		conns := c.connections
		c.mu.Unlock()
		for conn := 1; conn <= conns; conn++ {
			if name == w.storm.last && conn == conns {
				continue // the surviving connection
			}
			if !takeovers[conn] {
				return fmt.Errorf("connection %d of %q ended without a takeover event", conn, name)
			}
		}
	}
	return nil
}

// lastConnectionReceivesEveryEvent checks the surviving connection got
// every event after the Last-Event-ID it presented (or, without one, every
// event published after it attached) exactly once, in order. (Counting from
// the attach alone was wrong under load: an event's publish acknowledgement
// can come back after the tab has already received it, and resumed past
// it, on an earlier connection.)
func (w *world) lastConnectionReceivesEveryEvent() error {
	c := w.clients[w.storm.last]
	var want []string
	if w.storm.lastFrom != "" {
		from, err := strconv.ParseUint(w.storm.lastFrom, 10, 64)
		if err != nil {
			return fmt.Errorf("the last connection's Last-Event-ID %q: %v", w.storm.lastFrom, err)
		}
		for _, p := range w.published {
			if p.Seq > from {
				want = append(want, strconv.FormatUint(p.Seq, 10))
			}
		}
	} else {
		for _, p := range w.published[w.storm.lastAttachedAt:] {
			want = append(want, strconv.FormatUint(p.Seq, 10))
		}
	}
	if len(want) == 0 {
		return errors.New("no event was published after the last connection attached")
	}
	lastID := want[len(want)-1]
	conn := c.connections
	if err := c.waitFor(waitTimeout, "event "+lastID, func() bool {
		for _, e := range c.events {
			if e.Conn == conn && e.ID == lastID {
				return true
			}
		}
		return false
	}); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	got := map[string]int{}
	var order []uint64
	for _, e := range c.events {
		if e.Conn == conn {
			got[e.ID]++
			v, _ := strconv.ParseUint(e.ID, 10, 64)
			order = append(order, v)
		}
	}
	if !slices.IsSorted(order) {
		return fmt.Errorf("last connection got events out of order: %v", order)
	}
	for _, id := range want {
		if got[id] != 1 {
			return fmt.Errorf("last connection got event %s %d times", id, got[id])
		}
	}
	return nil
}

func (w *world) stormLostNoEvent(topic string) error {
	seen := map[string]bool{}
	for _, name := range w.storm.clients {
		c := w.clients[name]
		c.mu.Lock()
		for _, e := range c.events {
			seen[e.ID] = true
		}
		c.mu.Unlock()
	}
	for _, p := range w.published[w.storm.start:] {
		if p.Topic == topic && !seen[strconv.FormatUint(p.Seq, 10)] {
			return fmt.Errorf("event %d was delivered to no connection of the session", p.Seq)
		}
	}
	return nil
}

// serverSettlesWithin waits until the server has exactly sessions session
// records, no session consumer and conns connections.
func (w *world) serverSettlesWithin(secs, sessions, conns int) error {
	return within(time.Duration(secs)*time.Second, func() error {
		n, err := w.sessionConsumers()
		if err != nil {
			return err
		}
		r, err := w.sessionRecords()
		if err != nil {
			return err
		}
		m, err := w.metric("jetsse_connections")
		if err != nil {
			return err
		}
		if n != 0 || r != sessions || m != float64(conns) {
			return fmt.Errorf("%d session records, %d session consumers and %v connections, want %d, 0 and %d", r, n, m, sessions, conns)
		}
		return nil
	})
}

// serverGoroutines counts the process's goroutines once the test's idle
// HTTP connections (kept alive by http.DefaultClient, which the metrics and
// plain requests use) are closed: each holds two goroutines here and one in
// the server until it times out, more of them the slower the machine.
func serverGoroutines() int {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	return runtime.NumGoroutine()
}

// goroutinesReturnWithin waits until the test process (the in-process
// server included) has at most 10 goroutines more than before the storm,
// and prints every goroutine's stack if not.
func (w *world) goroutinesReturnWithin(secs int) error {
	err := within(time.Duration(secs)*time.Second, func() error {
		if n := serverGoroutines(); n > w.storm.goroutines+10 {
			return fmt.Errorf("%d goroutines, %d before the storm", n, w.storm.goroutines)
		}
		return nil
	})
	if err != nil {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		return fmt.Errorf("%v\n%s", err, buf)
	}
	return nil
}
