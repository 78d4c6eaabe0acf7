package features

// Steps of failover.feature: edges and NATS servers that die, stop or
// restart under a steady publish, on a 3-node NATS cluster with an R3
// stream, and the clients that come back.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func (w *world) registerFailover(sc *godog.ScenarioContext) {
	sc.Step(`^jetsse edge processes "([^"]*)" and "([^"]*)" on the cluster with "([^"]*)" sharing session keys "([^"]*)"$`, w.edgeProcessesOnTheCluster)
	sc.Step(`^a load balancer in front of the edges$`, w.loadBalancerInFrontOfTheEdges)
	sc.Step(`^clients "([^"]*)" subscribe to "([^"]*)" through the load balancer and reconnect like EventSource$`, w.clientsSubscribeThroughTheLoadBalancer)
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" on "([^"]*)" and reconnects like EventSource$`, w.clientSubscribesOnLikeEventSource)
	sc.Step(`^a backend publishes to "([^"]*)" steadily, retrying each event until it is acknowledged$`, w.backendPublishesSteadily)
	sc.Step(`^the backend stops publishing$`, w.backendStopsPublishing)
	sc.Step(`^(\d+) events are published to "([^"]*)", each retried until it is acknowledged$`, w.eventsArePublishedWithRetries)
	sc.Step(`^clients "([^"]*)" receive (\d+) more events$`, func(names string, n int) error {
		return w.clientsReceiveMore(names, n, waitTimeout)
	})
	sc.Step(`^clients "([^"]*)" receive (\d+) more events within (\d+) seconds$`, func(names string, n, secs int) error {
		return w.clientsReceiveMore(names, n, time.Duration(secs)*time.Second)
	})
	sc.Step(`^the edge "([^"]*)" is killed with SIGKILL$`, w.edgeIsKilled)
	sc.Step(`^client "(\w+)" reconnects to "([^"]*)" with its Last-Event-ID$`, w.clientReconnectsToWithLastEventID)
	sc.Step(`^the NATS server leading the stream stops$`, w.streamLeaderStops)
	sc.Step(`^another NATS server leads the stream$`, w.anotherServerLeadsTheStream)
	sc.Step(`^every NATS server of the cluster stops$`, w.everyNATSServerStops)
	sc.Step(`^every NATS server of the cluster starts again on its address and store dir$`, w.everyNATSServerStartsAgain)
	sc.Step(`^every edge answers /readyz with (\d+)$`, w.everyEdgeAnswersReadyz)
	sc.Step(`^the session bucket is deleted and an edge makes it again$`, w.sessionBucketIsDeletedAndMadeAgain)
	sc.Step(`^every client has received every event published to its topics since it subscribed, exactly once and in order$`, w.everyClientHasReceivedEveryEventExactlyOnce)
	sc.Step(`^every client has reconnected at least once$`, w.everyClientHasReconnected)
}

// Edges, and a load balancer in front of them.

// edgeProcessesOnTheCluster starts edges a and b as jetsse processes (so
// they can be killed with SIGKILL and stopped with SIGTERM) on the NATS
// cluster, with flags and the same session keys.
func (w *world) edgeProcessesOnTheCluster(a, b, flags, keys string) error {
	return w.startEdgesOnCluster(a, b, flags, keys, w.startProcess)
}

func (w *world) edgeIsKilled(name string) error {
	s, err := w.serverNamed(name)
	if err != nil {
		return err
	}
	return s.kill()
}

// loadBalancer is a plain HTTP reverse proxy in front of the edges, as
// deploy/ puts one: each request goes to the next edge in turn, skipping
// an edge whose port refuses the connection (stopped, or starting again),
// and responses stream through unbuffered. Its methods are safe for
// concurrent use; a nil *loadBalancer ignores backend and close.
type loadBalancer struct {
	srv *httptest.Server
	tr  *http.Transport

	mu    sync.Mutex
	names []string          // the edges, in turn order
	addrs map[string]string // edge → host:port it serves HTTP on
	next  int
}

var _ http.RoundTripper = (*loadBalancer)(nil)

func (w *world) loadBalancerInFrontOfTheEdges() error {
	if len(w.order) == 0 {
		return errors.New("no edge runs")
	}
	lb := &loadBalancer{
		tr:    &http.Transport{DisableKeepAlives: true, DisableCompression: true},
		addrs: map[string]string{},
	}
	for _, name := range w.order {
		lb.backend(name, w.servers[name].ready.HTTPAddr)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "edge" // RoundTrip picks the edge
			pr.Out.Host = ""
		},
		Transport:     lb,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0), // a client going away is not news
	}
	lb.srv = httptest.NewServer(proxy)
	w.lb = lb
	return nil
}

// backend makes the edge name, serving HTTP on addr, one of lb's backends
// (an edge started again serves on a new port).
func (lb *loadBalancer) backend(name, addr string) {
	if lb == nil {
		return
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if _, ok := lb.addrs[name]; !ok {
		lb.names = append(lb.names, name)
	}
	lb.addrs[name] = addr
}

// RoundTrip sends req to the next edge in turn, or to the one after it
// when that one refuses the connection.
func (lb *loadBalancer) RoundTrip(req *http.Request) (*http.Response, error) {
	lb.mu.Lock()
	order := make([]string, len(lb.names))
	for i := range order {
		order[i] = lb.addrs[lb.names[(lb.next+i)%len(lb.names)]]
	}
	lb.next++
	lb.mu.Unlock()
	err := errors.New("no edge")
	for _, addr := range order {
		out := req.Clone(req.Context())
		out.URL.Host = addr
		var resp *http.Response
		if resp, err = lb.tr.RoundTrip(out); err == nil {
			return resp, nil
		}
		if op := (*net.OpError)(nil); !errors.As(err, &op) || op.Op != "dial" {
			return nil, err // the edge had the request: not ours to send twice
		}
	}
	return nil, err
}

func (lb *loadBalancer) close() {
	if lb == nil {
		return
	}
	lb.srv.CloseClientConnections()
	lb.srv.Close()
}

// Clients.

// clientsSubscribeThroughTheLoadBalancer subscribes each client of the
// list to topics through the load balancer, each reconnecting on its own
// as EventSource does (after the retry delay, with its Last-Event-ID),
// through the load balancer again.
func (w *world) clientsSubscribeThroughTheLoadBalancer(names, topics string) error {
	lb := w.lb
	if lb == nil {
		return errors.New("no load balancer")
	}
	for _, name := range splitList(names) {
		if w.clients[name] != nil {
			return fmt.Errorf("client %q exists", name)
		}
		c := newSSEClient(name, func() string { return lb.srv.URL }, splitList(topics))
		w.clients[name] = c
		w.since[name] = len(w.published)
		if err := w.open(c, connectOptions{autoReconnect: true}); err != nil {
			return err
		}
		if w.status != http.StatusOK {
			return fmt.Errorf("subscribe answered %d: %s", w.status, w.body)
		}
	}
	return nil
}

func (w *world) clientSubscribesOnLikeEventSource(name, topics, srv string) error {
	return w.subscribe(name, topics, srv, connectOptions{autoReconnect: true})
}

// clientReconnectsToWithLastEventID moves client name to server srv,
// keeping what it expects, and reconnects it with its Last-Event-ID and
// cookie.
func (w *world) clientReconnectsToWithLastEventID(name, srv string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	since := w.since[name]
	if _, err := w.newClient(name, srv, strings.Join(c.topics, ",")); err != nil {
		return err
	}
	w.since[name] = since
	return w.clientReconnectsWithLastEventID(name)
}

// clientsReceiveMore waits up to d until each client of the list has
// received n events more than it had when the step began.
func (w *world) clientsReceiveMore(names string, n int, d time.Duration) error {
	type mark struct {
		c    *sseClient
		from int
	}
	var marks []mark
	for _, name := range splitList(names) {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.mu.Lock()
		marks = append(marks, mark{c, len(c.events)})
		c.mu.Unlock()
	}
	deadline := time.Now().Add(d)
	for _, m := range marks {
		if err := m.c.waitFor(time.Until(deadline), fmt.Sprintf("%d more events", n), func() bool { return len(m.c.events) >= m.from+n }); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) everyClientHasReceivedEveryEventExactlyOnce() error {
	if len(w.clients) == 0 {
		return errors.New("no client")
	}
	var errs []error
	for name := range w.clients {
		errs = append(errs, w.clientHasReceivedEveryEventExactlyOnce(name))
	}
	return errors.Join(errs...)
}

// everyClientHasReconnected checks that each client's stream ended at
// least once and that it came back (so the scenario moved every client).
func (w *world) everyClientHasReconnected() error {
	var errs []error
	for name, c := range w.clients {
		c.mu.Lock()
		if c.connections < 2 {
			errs = append(errs, fmt.Errorf("client %q had %d connection", name, c.connections))
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Publishing as a backend that must not lose an event.

// clusterJS returns JetStream on a NATS connection of the scenario's own to
// the whole cluster, which reconnects to whichever server is up.
func (w *world) clusterJS() (jetstream.JetStream, error) {
	const key = "the cluster" // not a server's name
	nc := w.nc[key]
	if nc == nil {
		if len(w.clusterURLs) == 0 {
			return nil, errors.New("no NATS cluster")
		}
		var err error
		nc, err = nats.Connect(strings.Join(w.clusterURLs, ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			return nil, err
		}
		w.nc[key] = nc
	}
	return jetstream.New(nc)
}

// publishUntilAcknowledged publishes data to topic as a backend that must
// not lose it does: with a Nats-Msg-Id, retrying until JetStream
// acknowledges it or waitTimeout passes. A retry of a publish that was
// stored but whose acknowledgement was lost is stored once and
// acknowledged with its first sequence (JetStream's de-duplication).
func publishUntilAcknowledged(js jetstream.JetStream, topic, data, msgID string) (*jetstream.PubAck, error) {
	deadline := time.Now().Add(waitTimeout)
	for retries := 0; ; retries++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ack, err := js.Publish(ctx, "events."+topic, []byte(data), jetstream.WithMsgID(msgID), jetstream.WithExpectStream("EVENTS"))
		cancel()
		if err == nil {
			return ack, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%q not acknowledged after %d retries in %v: %w", data, retries, waitTimeout, err)
		}
		time.Sleep(100 * time.Millisecond) // a backend's retry backoff
	}
}

func (w *world) eventsArePublishedWithRetries(n int, topic string) error {
	js, err := w.clusterJS()
	if err != nil {
		return err
	}
	label := fmt.Sprintf("%s@%d", topic, len(w.published))
	for i := range n {
		data := fmt.Sprintf("%s #%d", label, i+1)
		ack, err := publishUntilAcknowledged(js, topic, data, data)
		if err != nil {
			return err
		}
		w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Data: data})
	}
	return nil
}

// steadyPublisher publishes to one topic at a steady rate in the
// background, each event retried until it is acknowledged, and records the
// acknowledged ones in w.published. No step reads w.published while it
// runs: halt it first. halt is safe on a nil *steadyPublisher.
type steadyPublisher struct {
	stop     chan struct{}
	stopOnce sync.Once
	stopped  chan struct{}
	err      error // why it stopped early; read after stopped is closed
}

// steadyInterval is the steady publisher's pace: 50 events a second.
const steadyInterval = 20 * time.Millisecond

func (w *world) backendPublishesSteadily(topic string) error {
	if w.steady != nil {
		return errors.New("a backend publishes already")
	}
	js, err := w.clusterJS()
	if err != nil {
		return err
	}
	p := &steadyPublisher{stop: make(chan struct{}), stopped: make(chan struct{})}
	label := fmt.Sprintf("%s@%d steady", topic, len(w.published))
	go func() {
		defer close(p.stopped)
		tick := time.NewTicker(steadyInterval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			data := fmt.Sprintf("%s %d", label, i)
			ack, err := publishUntilAcknowledged(js, topic, data, data)
			if err != nil {
				p.err = err
				return
			}
			w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Data: data})
		}
	}()
	w.steady = p
	return nil
}

// halt stops publishing (an event being retried is retried to its end)
// and returns why the publisher stopped early, if it did.
func (p *steadyPublisher) halt() error {
	if p == nil {
		return nil
	}
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.stopped
	return p.err
}

func (w *world) backendStopsPublishing() error {
	if w.steady == nil {
		return errors.New("no backend publishes")
	}
	return w.steady.halt()
}

// The NATS cluster.

// streamInfo returns the stream's info as the cluster has it now.
func (w *world) streamInfo() (*jetstream.StreamInfo, error) {
	js, err := w.clusterJS()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		return nil, err
	}
	return st.CachedInfo(), nil
}

// streamLeaderStops stops the NATS server that leads the stream, once the
// stream has a leader and two replicas.
func (w *world) streamLeaderStops() error {
	var leader string
	if err := eventually(func() error {
		info, err := w.streamInfo()
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return fmt.Errorf("stream cluster %+v: want a leader and 2 replicas", info.Cluster)
		}
		leader = info.Cluster.Leader
		return nil
	}); err != nil {
		return err
	}
	for i, ns := range w.cluster {
		if ns != nil && ns.Name() == leader {
			w.stopClusterServer(i)
			w.stoppedLeader = leader
			return nil
		}
	}
	return fmt.Errorf("the stream's leader %q is none of the cluster's servers", leader)
}

func (w *world) anotherServerLeadsTheStream() error {
	if w.stoppedLeader == "" {
		return errors.New("no leader was stopped")
	}
	return eventually(func() error {
		info, err := w.streamInfo()
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == w.stoppedLeader {
			return fmt.Errorf("stream cluster %+v: want a leader other than %s", info.Cluster, w.stoppedLeader)
		}
		return nil
	})
}

func (w *world) everyNATSServerStops() error {
	if len(w.cluster) == 0 {
		return errors.New("no NATS cluster")
	}
	for i := range w.cluster {
		w.stopClusterServer(i)
	}
	return nil
}

func (w *world) everyNATSServerStartsAgain() error {
	all := make([]int, len(w.cluster))
	for i := range all {
		all[i] = i
	}
	return w.startClusterServers(all...)
}

// everyEdgeAnswersReadyz waits until every running edge's public /readyz
// answers status.
func (w *world) everyEdgeAnswersReadyz(status int) error {
	for _, name := range w.order {
		s := w.servers[name]
		if !s.running() {
			continue
		}
		if err := eventually(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base()+"/readyz", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			body := readAllLimited(resp, 1<<10)
			resp.Body.Close()
			if resp.StatusCode != status {
				return fmt.Errorf("edge %s: /readyz answered %d %q, want %d", name, resp.StatusCode, body, status)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// sessionBucketIsDeletedAndMadeAgain deletes the session bucket, as an
// operator might, and waits until an edge made it again and every edge is
// ready.
func (w *world) sessionBucketIsDeletedAndMadeAgain() error {
	js, err := w.clusterJS()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := js.DeleteKeyValue(ctx, "jetsse_sessions"); err != nil {
		return err
	}
	if err := eventually(func() error {
		_, err := js.KeyValue(context.Background(), "jetsse_sessions")
		return err
	}); err != nil {
		return err
	}
	return w.everyEdgeAnswersReadyz(http.StatusOK)
}
