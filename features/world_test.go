package features

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/cmd/jetsse/app"
	"github.com/jetsse/jetsse/pkg/topic"
)

// waitTimeout bounds every wait for a condition in a step.
const waitTimeout = 15 * time.Second

// server is one running jetsse: in-process (app.Run, the binary's own
// wiring) or, for crash tests, the built binary in a child process.
type server struct {
	name    string
	ready   app.Ready
	dataDir string
	args    []string

	cancel context.CancelFunc
	done   chan error
	proc   *exec.Cmd
	logs   *lockedBuffer
}

func (s *server) base() string { return "http://" + s.ready.HTTPAddr }

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
	nc        map[string]*nats.Conn

	cluster     []*natsserver.Server
	clusterURLs []string

	storm stormState
	// cliOutput is the output of the last nats CLI command.
	cliOutput string
	gapFirst  uint64

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
	for _, c := range w.clients {
		c.close()
	}
	for _, nc := range w.nc {
		nc.Close()
	}
	for i := len(w.order) - 1; i >= 0; i-- {
		_ = w.servers[w.order[i]].stop()
	}
	for _, ns := range w.cluster {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// defaultServer is the first server started.
func (w *world) defaultServer() (*server, error) {
	if len(w.order) == 0 {
		return nil, errors.New("no jetsse server is running")
	}
	return w.servers[w.order[0]], nil
}

func baseArgs(dataDir string) []string {
	return []string{"serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0",
		"--publish-token", "test-token", "--log-level", "warn", "--drain-timeout", "200ms", "--nats-sync", "always"}
}

// startServer runs jetsse in-process with the binary's wiring.
func (w *world) startServer(name, dataDir string, extra []string) (*server, error) {
	args := append(baseArgs(dataDir), extra...)
	s := &server{name: name, dataDir: dataDir, args: args, done: make(chan error, 1), logs: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	readyc := make(chan app.Ready, 1)
	go func() {
		s.done <- app.Run(ctx, args, app.Options{Stderr: s.logs, Stdout: s.logs, OnReady: func(r app.Ready) { readyc <- r }})
	}()
	select {
	case s.ready = <-readyc:
	case err := <-s.done:
		cancel()
		return nil, fmt.Errorf("jetsse did not start: %v\n%s", err, s.logs.String())
	case <-time.After(waitTimeout):
		cancel()
		return nil, fmt.Errorf("jetsse did not become ready in %v\n%s", waitTimeout, s.logs.String())
	}
	w.addServer(s)
	return s, nil
}

func (w *world) addServer(s *server) {
	if _, ok := w.servers[s.name]; !ok {
		w.order = append(w.order, s.name)
	}
	w.servers[s.name] = s
	if nc := w.nc[s.name]; nc != nil {
		nc.Close()
		delete(w.nc, s.name)
	}
}

// stop ends a server gracefully (in-process: cancel; child: SIGTERM).
func (s *server) stop() error {
	if s.proc != nil {
		if s.proc.ProcessState == nil {
			_ = s.proc.Process.Signal(syscall.SIGTERM)
		}
	} else if s.cancel != nil {
		s.cancel()
	}
	select {
	case err := <-s.done:
		s.done <- err // keep it for a second stop
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("server %s did not stop", s.name)
	}
}

// natsConn returns a NATS client connected to a server's NATS.
func (w *world) natsConn(name string) (*nats.Conn, error) {
	if nc := w.nc[name]; nc != nil {
		return nc, nil
	}
	s := w.servers[name]
	if s == nil {
		return nil, fmt.Errorf("no server %q", name)
	}
	nc, err := nats.Connect(s.ready.NATSURL, nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	w.nc[name] = nc
	return nc, nil
}

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

// binary builds cmd/jetsse once per test run, for tests that need a real
// process (kill -9).
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "jetsse-bin")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "jetsse")
	out, err := exec.Command("go", "build", "-o", path, "github.com/jetsse/jetsse/cmd/jetsse").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return path, nil
})

// startProcess runs the jetsse binary as a child process on dataDir.
// natsAddr and httpAddr may be fixed so a restarted process keeps them.
func (w *world) startProcess(name, dataDir string, extra []string) (*server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	args := append(baseArgs(dataDir), "--log-format", "json", "--log-level", "info")
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	s := &server{name: name, dataDir: dataDir, args: args, proc: cmd, done: make(chan error, 1), logs: &lockedBuffer{}}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	readyc := make(chan app.Ready, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.Write(append(append([]byte(nil), line...), '\n'))
			var rec struct {
				Msg  string `json:"msg"`
				HTTP string `json:"http"`
				NATS string `json:"nats"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "jetsse serving" {
				readyc <- app.Ready{HTTPAddr: rec.HTTP, NATSURL: rec.NATS, DataDir: dataDir, PublishToken: "test-token"}
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case s.ready = <-readyc:
	case <-time.After(waitTimeout):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("jetsse process did not become ready\n%s", s.logs.String())
	}
	// The edge answers once its live path runs.
	if err := waitHTTP(s.base()+"/readyz", waitTimeout); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, s.logs.String())
	}
	w.addServer(s)
	return s, nil
}

func waitHTTP(url string, timeout time.Duration) error {
	err := within(timeout, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s not ready after %v (last: %v)", url, timeout, err)
	}
	return nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var _ = testing.Short
