package features

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/pkg/natsembed"
	"github.com/jetsse/jetsse/pkg/topic"
)

// waitTimeout bounds every wait for a condition in a step.
const waitTimeout = 15 * time.Second

// published is an event the scenario published, as the stream stored it.
type published struct {
	Seq   uint64
	Topic string
	Type  string
	Data  string
}

// world is one scenario's state. Nothing is shared between scenarios.
type world struct {
	dir       string
	servers   map[string]*server
	order     []string
	clients   map[string]*sseClient
	since     map[string]int // client → index into published when it first subscribed
	published []published
	// batch is the last batch POSTed, batchAnswer its answer.
	batch       []batchEvent
	batchAnswer batchAnswer
	nc          map[string]*nats.Conn

	cluster     []*natsserver.Server
	clusterURLs []string
	// clusterCfgs are the cluster's servers' configurations, for starting
	// one again where it was (a stopped server's entry in cluster is shut
	// down).
	clusterCfgs []natsembed.Config
	// lb is a load balancer in front of the edges (nil: none); edges that
	// start again are its backends again.
	lb *loadBalancer
	// steady publishes in the background (nil: nothing does).
	steady *steadyPublisher
	// stoppedLeader is the NATS server that led the stream when the
	// scenario stopped it.
	stoppedLeader string

	storm stormState
	// cliOutput is the output of the last nats CLI command.
	cliOutput string
	// cliErr is how the last nats CLI command the operator "tried" failed
	// (nil: it succeeded).
	cliErr error
	// natsPassword is the embedded NATS server's password as its data dir
	// held it when the scenario first read it.
	natsPassword string
	// gapFirst is the first_available of the last gap whose start the
	// scenario took from the stream.
	gapFirst uint64
	// rssBefore is the edge process's resident memory before clients that
	// never read subscribed.
	rssBefore int64

	// auth holds the JWT secret and tokens of a scenario with --auth jwt.
	auth authState
	// limits holds what a scenario about limits asked and holds open.
	limits limitsState
	// backend listens to the session lifecycle events.
	backend *backend

	// the last plain HTTP response
	status int
	body   string
	header http.Header
}

func newWorld(dir string) *world {
	return &world{
		dir:     dir,
		servers: map[string]*server{},
		clients: map[string]*sseClient{},
		since:   map[string]int{},
		nc:      map[string]*nats.Conn{},
	}
}

func (w *world) close() {
	_ = w.steady.halt()
	w.limits.close()
	w.backend.close()
	for _, c := range w.clients {
		c.close()
	}
	w.lb.close()
	for _, nc := range w.nc {
		nc.Close()
	}
	for i := len(w.order) - 1; i >= 0; i-- {
		_ = w.servers[w.order[i]].stop()
	}
	for _, ns := range w.cluster {
		if ns != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	}
}

// defaultServer is the first server started.
func (w *world) defaultServer() (*server, error) {
	if len(w.order) == 0 {
		return nil, errors.New("no jetsse server is running")
	}
	return w.servers[w.order[0]], nil
}

// serverNamed returns the jetsse server the scenario named name.
func (w *world) serverNamed(name string) (*server, error) {
	s, ok := w.servers[name]
	if !ok {
		return nil, fmt.Errorf("no jetsse server %q", name)
	}
	return s, nil
}

// natsConn returns a NATS client connected to a server's NATS, with the
// credentials it requires.
func (w *world) natsConn(name string) (*nats.Conn, error) {
	if nc := w.nc[name]; nc != nil {
		return nc, nil
	}
	s := w.servers[name]
	if s == nil {
		return nil, fmt.Errorf("no server %q", name)
	}
	opts := []nats.Option{nats.MaxReconnects(-1)}
	if s.ready.NATSUser != "" {
		opts = append(opts, nats.UserInfo(s.ready.NATSUser, s.ready.NATSPassword))
	}
	nc, err := nats.Connect(s.ready.NATSURL, opts...)
	if err != nil {
		return nil, err
	}
	w.nc[name] = nc
	return nc, nil
}

// js returns JetStream on the default server's NATS.
func (w *world) js() (jetstream.JetStream, error) {
	s, err := w.defaultServer()
	if err != nil {
		return nil, err
	}
	nc, err := w.natsConn(s.name)
	if err != nil {
		return nil, err
	}
	return jetstream.New(nc)
}

// stream returns the event stream with fresh info.
func (w *world) stream() (jetstream.Stream, error) {
	js, err := w.js()
	if err != nil {
		return nil, err
	}
	return js.Stream(context.Background(), "EVENTS")
}

func (w *world) streamFirstSeq() (uint64, error) {
	st, err := w.stream()
	if err != nil {
		return 0, err
	}
	return st.CachedInfo().State.FirstSeq, nil
}

// client returns a named client.
func (w *world) client(name string) (*sseClient, error) {
	if c := w.clients[name]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no client %q", name)
}

// newClient makes client name talk to serverName (the default server when
// empty) about topics. A client made again keeps what its browser kept (its
// token, cookie and last event ID) and what it received.
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
// published afterwards counts as published after it subscribed. It keeps the
// status and the body of a refusal for the Then steps.
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

// expectedFor returns the events published since the client first
// subscribed that match its topics.
func (w *world) expectedFor(c *sseClient) ([]published, error) {
	set, err := topic.NewSet(c.topics, topic.Limits{})
	if err != nil {
		return nil, err
	}
	var out []published
	for _, p := range w.published[w.since[c.name]:] {
		if set.Match(p.Topic) {
			out = append(out, p)
		}
	}
	return out, nil
}

// sessionIDOf returns the session ID client name was last told.
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

// do sends a plain request and keeps its response for the Then steps.
func (w *world) do(req *http.Request) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w.status, w.header, w.body = resp.StatusCode, resp.Header, readAllLimited(resp, 1<<20)
	return nil
}

// readAllLimited reads at most limit bytes of a response body.
func readAllLimited(resp *http.Response, limit int64) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	return string(b)
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
