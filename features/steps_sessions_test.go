package features

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/pkg/natsembed"
	"github.com/jetsse/jetsse/pkg/session"
)

func (w *world) sessionIDOf(name string) (string, error) {
	c, err := w.client(name)
	if err != nil {
		return "", err
	}
	s, err := c.session()
	if err != nil {
		return "", err
	}
	return s.Session, nil
}

// consumerGone fails unless the session consumer of client name is gone.
func (w *world) consumerGone(name string) error {
	switch _, err := w.consumerInfo(name); {
	case err == nil:
		return errors.New("the session consumer still exists")
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return err
	}
	return nil
}

func (w *world) consumerInfo(name string) (*jetstream.ConsumerInfo, error) {
	id, err := w.sessionIDOf(name)
	if err != nil {
		return nil, err
	}
	js, err := w.js()
	if err != nil {
		return nil, err
	}
	c, err := js.Consumer(context.Background(), "EVENTS", "sse-"+id)
	if err != nil {
		return nil, err
	}
	return c.CachedInfo(), nil
}

// eventually is within the default wait.
func eventually(check func() error) error { return within(waitTimeout, check) }

// within polls check until it returns nil, or returns its last error once d
// has passed. It is for state outside the test that offers nothing to wait
// on (metrics, JetStream, a browser page): a detached session is stored
// within moments, not at once.
func within(d time.Duration, check func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// forgedToken returns a token that must not resume alice's session.
func (w *world) forgedToken(what string) (string, error) {
	alice, err := w.client("alice")
	if err != nil {
		return "", err
	}
	tok := alice.token
	switch what {
	case "alice's token with one character changed":
		b := []byte(tok)
		if b[10] == 'A' {
			b[10] = 'B'
		} else {
			b[10] = 'A'
		}
		return string(b), nil
	case "alice's token truncated":
		return tok[:len(tok)-5], nil
	case "a token signed with another key":
		sum := sha256.Sum256([]byte("some other key"))
		ring, err := session.NewKeyring(sum[:])
		if err != nil {
			return "", err
		}
		s, err := alice.session()
		if err != nil {
			return "", err
		}
		id, err := session.ParseID(s.Session)
		if err != nil {
			return "", err
		}
		return ring.Sign(id), nil
	case "a random string as token":
		return "not-a-token", nil
	case "a 10 kB token":
		return strings.Repeat("A", 10_000), nil
	}
	return "", fmt.Errorf("unknown token kind %q", what)
}

func (w *world) registerSessions(sc *godog.ScenarioContext) {
	sc.Step(`^the session consumer of client "(\w+)" exists$`, func(name string) error {
		return eventually(func() error {
			_, err := w.consumerInfo(name)
			return err
		})
	})
	sc.Step(`^the session consumer of client "(\w+)" exists with metadata topics "([^"]*)"$`, func(name, list string) error {
		return eventually(func() error { return w.consumerHasTopics(name, list) })
	})
	sc.Step(`^the session consumer of client "(\w+)" has no token in its metadata$`, func(name string) error {
		info, err := w.consumerInfo(name)
		if err != nil {
			return err
		}
		c, _ := w.client(name)
		b, _ := json.Marshal(info.Config)
		if strings.Contains(string(b), c.token) {
			return errors.New("the consumer config contains the token")
		}
		return nil
	})

	sc.Step(`^the session record of client "(\w+)" exists$`, func(name string) error {
		_, err := w.sessionRecord(name)
		return err
	})
	sc.Step(`^the session record of client "(\w+)" has no token in it$`, func(name string) error {
		v, err := w.sessionRecord(name)
		if err != nil {
			return err
		}
		c, _ := w.client(name)
		if strings.Contains(string(v), c.token) {
			return errors.New("the session record contains the token")
		}
		return nil
	})
	sc.Step(`^the session consumer of client "(\w+)" is removed within (\d+) seconds$`, func(name string, secs int) error {
		return within(time.Duration(secs)*time.Second, func() error {
			return w.consumerGone(name)
		})
	})
	sc.Step(`^the session of client "(\w+)" is removed within (\d+) seconds$`, func(name string, secs int) error {
		return within(time.Duration(secs)*time.Second, func() error {
			if err := w.consumerGone(name); err != nil {
				return err
			}
			switch _, err := w.sessionRecord(name); {
			case err == nil:
				return errors.New("the session record still exists")
			case !errors.Is(err, jetstream.ErrKeyNotFound):
				return err
			}
			return nil
		})
	})
	sc.Step(`^the session of client "(\w+)" has its position (\d+) recorded in JetStream$`, func(name string, pos uint64) error {
		id, err := w.sessionIDOf(name)
		if err != nil {
			return err
		}
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		running := true
		select {
		case err := <-s.done:
			s.done <- err
			running = false
		default:
		}
		js, err := w.js()
		if !running {
			// Look at the data dir with a bare nats-server.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ns, err := natsembed.Start(ctx, natsembed.Config{ClientAddr: "127.0.0.1:0", StoreDir: s.dataDir})
			if err != nil {
				return err
			}
			defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
			nc, err := natsConnect(ns.ClientURL())
			if err != nil {
				return err
			}
			defer nc.Close()
			js, _ = jetstream.New(nc)
		} else if err != nil {
			return err
		}
		// The session's record holds its position; a detached session's
		// consumer, while it exists, has it as its ack floor.
		kv, err := js.KeyValue(context.Background(), "jetsse_sessions")
		if err != nil {
			return err
		}
		return eventually(func() error {
			e, err := kv.Get(context.Background(), id)
			if err != nil {
				return err
			}
			f := strings.Fields(string(e.Value()))
			if len(f) < 3 || f[0] != "v1" || f[1] != "-" || f[2] != strconv.FormatUint(pos, 10) {
				return fmt.Errorf("session record %q, want detached at position %d", e.Value(), pos)
			}
			c, err := js.Consumer(context.Background(), "EVENTS", "sse-"+id)
			if errors.Is(err, jetstream.ErrConsumerNotFound) && !running {
				return nil // memory-stored consumers do not outlive the server
			}
			if err != nil {
				return err
			}
			if got := c.CachedInfo().AckFloor.Stream; got != pos {
				return fmt.Errorf("consumer ack floor %d, want %d", got, pos)
			}
			return nil
		})
	})
	sc.Step(`^client "(\w+)" got a token different from its first one$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.firstToken == "" || c.firstToken == c.token {
			return fmt.Errorf("first token %q, now %q", c.firstToken, c.token)
		}
		return nil
	})

	sc.Step(`^clients "(\w+)" and "(\w+)" alternate on the session (\d+) times while events are published to "([^"]*)"$`, w.takeoverStorm)
	sc.Step(`^every replaced connection received a takeover event$`, func() error {
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
	})
	sc.Step(`^the last connection receives every event published after it attached$`, func() error {
		c := w.clients[w.storm.last]
		var want []string
		for _, p := range w.published[w.storm.lastAttachedAt:] {
			want = append(want, strconv.FormatUint(p.Seq, 10))
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
	})
	sc.Step(`^the union of what both clients received has every event published to "([^"]*)" during the storm$`, func(topic string) error {
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
	})
	sc.Step(`^(\d+) detached sessions? (?:is|are) kept without a consumer, and (\d+) with one$`, func(without, with int) error {
		return eventually(func() error {
			m, err := w.metric(`jetsse_checkpoints_total{result="no_consumer"}`)
			if err != nil {
				m = 0 // not counted yet
			}
			n, err := w.sessionConsumers()
			if err != nil {
				return err
			}
			if m != float64(without) || n != with {
				return fmt.Errorf("%v sessions kept without a consumer and %d session consumers, want %d and %d", m, n, without, with)
			}
			return nil
		})
	})
	sc.Step(`^within (\d+) seconds the server has exactly (\d+) sessions?, no session consumer and (\d+) connections?$`, func(secs, sessions, conns int) error {
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
	})
	sc.Step(`^within (\d+) seconds the server's goroutines return to their level before the storm$`, func(secs int) error {
		err := within(time.Duration(secs)*time.Second, func() error {
			if n := runtime.NumGoroutine(); n > w.storm.goroutines+10 {
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
	})
}

// stormState records a takeover storm for its Then steps.
type stormState struct {
	clients        []string
	last           string
	start          int // index into published when the storm began
	lastAttachedAt int // index into published when the last connection attached
	goroutines     int
}

// takeoverStorm alternates two clients on one session n times while a
// publisher keeps publishing.
func (w *world) takeoverStorm(a, b string, n int, topic string) error {
	first, err := w.client(a)
	if err != nil {
		return err
	}
	w.storm = stormState{clients: []string{a, b}, start: len(w.published), goroutines: runtime.NumGoroutine()}
	if _, err := w.newClient(b, "", strings.Join(first.topics, ",")); err != nil {
		return err
	}
	w.clients[b].cookie = first.cookie

	js, err := w.js()
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		pubErr  error
		stop    = make(chan struct{})
		stopped = make(chan struct{})
	)
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data := fmt.Sprintf("storm %d", i)
			ack, err := js.Publish(context.Background(), "events."+topic, []byte(data))
			mu.Lock()
			if err != nil {
				pubErr = err
				mu.Unlock()
				return
			}
			w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Data: data})
			mu.Unlock()
			time.Sleep(2 * time.Millisecond) // publish pacing
		}
	}()
	names := []string{b, a}
	for i := range n {
		c := w.clients[names[i%2]]
		other := w.clients[names[(i+1)%2]]
		c.cookie = other.cookie // one cookie jar: the session's token
		// A browser tab keeps its own Last-Event-ID, so reconnects present it.
		o := connectOptions{cookie: c.cookie}
		if c.lastEventID != "" {
			o.lastEventID = strp(c.lastEventID)
		}
		if err := w.open(c, o); err != nil {
			close(stop)
			<-stopped
			return err
		}
		// The replaced connection is told before its tab reconnects.
		other.mu.Lock()
		conn, live := other.connections, other.connected
		other.mu.Unlock()
		if live {
			if err := other.waitFor(waitTimeout, "a takeover", func() bool {
				for _, r := range other.control {
					if r.Type == "takeover" && r.Conn == conn {
						return true
					}
				}
				return false
			}); err != nil {
				close(stop)
				<-stopped
				return err
			}
		}
		mu.Lock()
		w.storm.last = c.name
		w.storm.lastAttachedAt = len(w.published)
		mu.Unlock()
	}
	// Keep publishing a little after the last attach, then stop.
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
	close(stop)
	<-stopped
	if err != nil {
		return err
	}
	return pubErr
}

func (w *world) sessionConsumers() (int, error) {
	st, err := w.stream()
	if err != nil {
		return 0, err
	}
	n := 0
	l := st.ConsumerNames(context.Background())
	for name := range l.Name() {
		if strings.HasPrefix(name, "sse-") {
			n++
		}
	}
	return n, l.Err()
}

func readAllLimited(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(b)
}

func (w *world) sessionKV() (jetstream.KeyValue, error) {
	js, err := w.js()
	if err != nil {
		return nil, err
	}
	return js.KeyValue(context.Background(), "jetsse_sessions")
}

// sessionRecord returns the raw record of a client's session.
func (w *world) sessionRecord(name string) ([]byte, error) {
	id, err := w.sessionIDOf(name)
	if err != nil {
		return nil, err
	}
	kv, err := w.sessionKV()
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(context.Background(), id)
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

func (w *world) sessionRecords() (int, error) {
	kv, err := w.sessionKV()
	if err != nil {
		return 0, err
	}
	l, err := kv.ListKeys(context.Background())
	if err != nil {
		return 0, err
	}
	n := 0
	for range l.Keys() {
		n++
	}
	return n, nil
}

func (w *world) consumerHasTopics(name, list string) error {
	info, err := w.consumerInfo(name)
	if err != nil {
		return err
	}
	var topics []string
	if err := json.Unmarshal([]byte(info.Config.Metadata["jetsse.topics"]), &topics); err != nil {
		return fmt.Errorf("metadata %v: %w", info.Config.Metadata, err)
	}
	if want := splitList(list); !slices.Equal(topics, want) {
		return fmt.Errorf("topics %v, want %v", topics, want)
	}
	if _, err := time.Parse(time.RFC3339Nano, info.Config.Metadata["jetsse.created"]); err != nil {
		return fmt.Errorf("jetsse.created: %w", err)
	}
	return nil
}
