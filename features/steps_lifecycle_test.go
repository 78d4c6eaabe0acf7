package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// backend is a NATS subscriber to the lifecycle subjects, as a backend
// would run one. It keeps every event, in arrival order.
type backend struct {
	nc  *nats.Conn
	mu  sync.Mutex
	got []lifecycleEvent
	// cursor is where the next "gets" step looks from, per session.
	cursor map[string]int
}

// lifecycleEvent is a lifecycle message as a backend decodes it.
type lifecycleEvent struct {
	Subject    string   `json:"-"`
	Kind       string   `json:"kind"`
	Session    string   `json:"session"`
	Identity   string   `json:"identity"`
	Topics     []string `json:"topics"`
	Node       string   `json:"node"`
	Position   string   `json:"position"`
	Reconnects string   `json:"reconnects"` // uint64: a JSON string
	Time       string   `json:"time"`
	Gap        *struct {
		LastEventID    string `json:"last_event_id"`
		FirstAvailable string `json:"first_available"`
	} `json:"gap"`
}

func (b *backend) close() {
	if b != nil && b.nc != nil {
		b.nc.Close()
	}
}

func (w *world) registerLifecycle(sc *godog.ScenarioContext) {
	sc.Step(`^a backend listens on "([^"]*)"$`, w.backendListens)
	type check = func(e lifecycleEvent) error
	gets := func(kind, client string, c check) error { return w.backendGets(kind, client, c) }
	sc.Step(`^the backend gets an? "(\w+)" event for the session of client "(\w+)"$`, func(kind, client string) error {
		return gets(kind, client, nil)
	})
	sc.Step(`^the backend gets an? "(\w+)" event for the session of client "(\w+)" with topics "([^"]*)", no position and (\d+) reconnects$`,
		func(kind, client, topics string, n int) error {
			return gets(kind, client, func(e lifecycleEvent) error {
				if !slices.Equal(e.Topics, splitList(topics)) || e.Position != "" || e.Reconnects != fmt.Sprint(n) {
					return fmt.Errorf("topics %v, position %q, reconnects %s", e.Topics, e.Position, e.Reconnects)
				}
				return nil
			})
		})
	sc.Step(`^the backend gets an? "(\w+)" event for the session of client "(\w+)" at position "(\d+)"$`, func(kind, client, pos string) error {
		return gets(kind, client, positionIs(pos))
	})
	sc.Step(`^the backend gets an? "(\w+)" event for the session of client "(\w+)" at position "(\d+)" with (\d+) reconnects?$`,
		func(kind, client, pos string, n int) error {
			return gets(kind, client, func(e lifecycleEvent) error {
				if err := positionIs(pos)(e); err != nil {
					return err
				}
				if e.Reconnects != fmt.Sprint(n) {
					return fmt.Errorf("reconnects %s, want %d", e.Reconnects, n)
				}
				return nil
			})
		})
	sc.Step(`^the backend gets an? "(\w+)" event for the session of client "(\w+)" at position "(\d+)" from node "([^"]*)"$`,
		func(kind, client, pos, node string) error {
			return gets(kind, client, func(e lifecycleEvent) error {
				if err := positionIs(pos)(e); err != nil {
					return err
				}
				return nodeIs(node)(e)
			})
		})
	sc.Step(`^the backend gets an? "(\w+)" event for the session of client "(\w+)" from node "([^"]*)"$`, func(kind, client, node string) error {
		return gets(kind, client, nodeIs(node))
	})
	sc.Step(`^the backend gets an? "(\w+)" event for the session of client "(\w+)" with identity "([^"]*)"$`, func(kind, client, id string) error {
		return gets(kind, client, func(e lifecycleEvent) error {
			if e.Identity != id {
				return fmt.Errorf("identity %q", e.Identity)
			}
			return nil
		})
	})
	sc.Step(`^the backend gets an? "(\w+)" event for the session of client "(\w+)" with last_event_id "(\d+)" and first_available "(\d+)"$`,
		func(kind, client, last, first string) error {
			return gets(kind, client, func(e lifecycleEvent) error {
				if e.Gap == nil || e.Gap.LastEventID != last || e.Gap.FirstAvailable != first || e.Position != last {
					return fmt.Errorf("gap %+v at position %q", e.Gap, e.Position)
				}
				return nil
			})
		})
	sc.Step(`^every event the backend got names this node and the session's topics$`, w.everyEventNamesNodeAndTopics)
	sc.Step(`^the backend got exactly one "(\w+)" event for the session of client "(\w+)" once every edge has read the expiries$`, w.exactlyOneOnceRead)
	sc.Step(`^every edge stops$`, w.everyEdgeStops)
	sc.Step(`^the server "([^"]*)" stops$`, w.namedServerStops)
	sc.Step(`^the record of the session of client "(\w+)" expires$`, w.recordExpires)
	sc.Step(`^the edge "([^"]*)" starts again$`, w.edgeStartsAgain)
}

func positionIs(pos string) func(lifecycleEvent) error {
	return func(e lifecycleEvent) error {
		if e.Position != pos {
			return fmt.Errorf("position %q, want %q", e.Position, pos)
		}
		return nil
	}
}

func nodeIs(node string) func(lifecycleEvent) error {
	return func(e lifecycleEvent) error {
		if e.Node != node {
			return fmt.Errorf("node %q, want %q", e.Node, node)
		}
		return nil
	}
}

// backendListens subscribes a backend to subject on the NATS cluster, or
// the default server's NATS.
func (w *world) backendListens(subject string) error {
	url := strings.Join(w.clusterURLs, ",")
	var opts []nats.Option
	if url == "" {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		url = s.ready.NATSURL
		if s.ready.NATSUser != "" {
			opts = append(opts, nats.UserInfo(s.ready.NATSUser, s.ready.NATSPassword))
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return err
	}
	b := &backend{nc: nc, cursor: map[string]int{}}
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		var e lifecycleEvent
		if err := json.Unmarshal(m.Data, &e); err != nil {
			e.Kind = "undecodable: " + string(m.Data)
		}
		e.Subject = m.Subject
		b.mu.Lock()
		b.got = append(b.got, e)
		b.mu.Unlock()
	}); err != nil {
		nc.Close()
		return err
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return err
	}
	w.backend.close()
	w.backend = b
	return nil
}

// backendGets waits for the next event of kind for client's session, after
// the last one a step found for that session, and checks it.
func (w *world) backendGets(kind, client string, check func(lifecycleEvent) error) error {
	b := w.backend
	if b == nil {
		return errors.New("no backend listens")
	}
	id, err := w.sessionIDOf(client)
	if err != nil {
		return err
	}
	var last error
	err = eventually(func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i := b.cursor[id]; i < len(b.got); i++ {
			e := b.got[i]
			if e.Session != id || e.Kind != kind {
				continue
			}
			if e.Subject != "" && !strings.HasSuffix(e.Subject, "."+kind+"."+id) {
				return fmt.Errorf("event on subject %s", e.Subject)
			}
			if check != nil {
				if last = check(e); last != nil {
					continue
				}
			}
			b.cursor[id] = i + 1
			return nil
		}
		return fmt.Errorf("no %q event for session %s yet (last mismatch: %v); got %s", kind, id, last, b.summary())
	})
	return err
}

// summary lists what the backend got, for error messages. b.mu is held.
func (b *backend) summary() string {
	var parts []string
	for _, e := range b.got {
		parts = append(parts, fmt.Sprintf("%s %s@%s(%s)", e.Kind, e.Session, e.Position, e.Node))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (w *world) everyEventNamesNodeAndTopics() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	b := w.backend
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) == 0 {
		return errors.New("the backend got nothing")
	}
	for _, e := range b.got {
		if e.Node != s.ready.NodeID || len(e.Topics) == 0 || e.Time == "" {
			return fmt.Errorf("event %+v: node %q want %q, topics and time required", e, e.Node, s.ready.NodeID)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
			return fmt.Errorf("time %q: %v", e.Time, err)
		}
	}
	return nil
}

// exactlyOneOnceRead waits until the edges' shared expiry consumer has
// nothing pending, then counts the events of kind for client's session.
func (w *world) exactlyOneOnceRead(kind, client string) error {
	js, err := w.js()
	if err != nil {
		return err
	}
	if err := eventually(func() error {
		cons, err := js.Consumer(context.Background(), "KV_jetsse_sessions", "jetsse_lifecycle")
		if err != nil {
			return err
		}
		info := cons.CachedInfo()
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return fmt.Errorf("the expiry consumer has %d pending and %d unacknowledged", info.NumPending, info.NumAckPending)
		}
		return nil
	}); err != nil {
		return err
	}
	id, err := w.sessionIDOf(client)
	if err != nil {
		return err
	}
	b := w.backend
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.got {
		if e.Kind == kind && e.Session == id {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%d %q events for the session: %s", n, kind, b.summary())
	}
	return nil
}

func (w *world) everyEdgeStops() error {
	for _, name := range w.order {
		if err := w.servers[name].stop(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

func (w *world) namedServerStops(name string) error {
	s, err := w.serverNamed(name)
	if err != nil {
		return err
	}
	if err := s.stop(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// recordExpires waits until the session's record is gone from the bucket
// (its max age passed; no edge is needed for that).
func (w *world) recordExpires(client string) error {
	id, err := w.sessionIDOf(client)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(strings.Join(w.clusterURLs, ","))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(context.Background(), "jetsse_sessions")
	if err != nil {
		return err
	}
	return eventually(func() error {
		_, err := kv.Get(context.Background(), id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		return fmt.Errorf("the record is still there (%v)", err)
	})
}

// edgeStartsAgain starts a stopped edge again with the arguments it first
// started with, as it ran before: in-process or as a process.
func (w *world) edgeStartsAgain(name string) error {
	s := w.servers[name]
	if s == nil {
		return fmt.Errorf("no server %q", name)
	}
	start := w.startServer
	if s.proc != nil {
		start = w.startProcess
	}
	_, err := start(name, s.dataDir, s.extra)
	return err
}
