package features

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/jetsse/jetsse/cmd/jetsse/app"
	"github.com/jetsse/jetsse/pkg/natsembed"
)

// server is one running jetsse: in-process (app.Run, the binary's own
// wiring) or, for crash tests, the built binary in a child process.
type server struct {
	name    string
	ready   app.Ready
	dataDir string
	extra   []string // the flags it was started with, beyond baseArgs

	cancel context.CancelFunc
	done   chan error
	proc   *exec.Cmd
	logs   *lockedBuffer
}

func (s *server) base() string { return "http://" + s.ready.HTTPAddr }

// admin is the base URL of the server's admin listener (metrics, pprof).
func (s *server) admin() string { return "http://" + s.ready.AdminAddr }

func baseArgs(dataDir string) []string {
	return []string{"serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0",
		"--admin-addr", "127.0.0.1:0",
		"--publish-token", "test-publish-token", "--log-level", "warn", "--drain-timeout", "200ms", "--nats-sync", "always"}
}

// startServer runs jetsse in-process with the binary's wiring.
func (w *world) startServer(name, dataDir string, extra []string) (*server, error) {
	args := append(baseArgs(dataDir), extra...)
	s := &server{name: name, dataDir: dataDir, extra: extra, done: make(chan error, 1), logs: &lockedBuffer{}}
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

// addServer records s under its name; a server started again replaces the
// old one and its NATS connection.
func (w *world) addServer(s *server) {
	if _, ok := w.servers[s.name]; !ok {
		w.order = append(w.order, s.name)
	}
	w.servers[s.name] = s
	w.lb.backend(s.name, s.ready.HTTPAddr)
	if nc := w.nc[s.name]; nc != nil {
		nc.Close()
		delete(w.nc, s.name)
	}
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
// extra may fix --nats-addr and --http-addr so a restarted process keeps
// them.
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
	s := &server{name: name, dataDir: dataDir, extra: extra, proc: cmd, done: make(chan error, 1), logs: &lockedBuffer{}}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	readyc := make(chan app.Ready, 1)
	go s.readLogs(stderr, readyc)
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

// readLogs keeps a child process's JSON log lines, tells readyc where it
// serves once it logs so (the admin token it reads from the data dir,
// where the process generated it), and reports the process's exit on
// s.done.
func (s *server) readLogs(stderr io.Reader, readyc chan<- app.Ready) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		s.logs.Write(append(append([]byte(nil), line...), '\n'))
		var rec struct {
			Msg   string `json:"msg"`
			HTTP  string `json:"http"`
			Admin string `json:"admin"`
			NATS  string `json:"nats"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "jetsse serving" {
			token, _ := os.ReadFile(filepath.Join(s.dataDir, "admin.token"))
			readyc <- app.Ready{HTTPAddr: rec.HTTP, NATSURL: rec.NATS, DataDir: s.dataDir, PublishToken: "test-publish-token",
				AdminAddr: rec.Admin, AdminToken: strings.TrimSpace(string(token))}
		}
	}
	s.done <- s.proc.Wait()
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

// kill sends SIGKILL to a child-process server and waits for it to die.
func (s *server) kill() error {
	if s.proc == nil {
		return errors.New("kill needs a jetsse process, not an in-process server")
	}
	if err := s.proc.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(waitTimeout):
		return errors.New("killed process did not exit")
	}
	return nil
}

// running reports whether the server has not stopped yet.
func (s *server) running() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return false
	default:
		return true
	}
}

// rss returns a child-process server's resident set size in bytes.
func (s *server) rss() (int64, error) {
	if s.proc == nil {
		return 0, errors.New("RSS needs a jetsse process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.proc.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
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

// lockedBuffer collects a server's logs.
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

// logLines returns the lines of logs that contain every non-empty needle.
func logLines(logs string, needles ...string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		ok := line != ""
		for _, n := range needles {
			ok = ok && strings.Contains(line, n)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// writeKeyFile writes a session key file with one deterministic key per
// name ("k1, k2": k1 signs).
func writeKeyFile(dir, names string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, n := range strings.Split(names, ",") {
		sum := sha256.Sum256([]byte("test key " + strings.TrimSpace(n)))
		b.WriteString(base64.StdEncoding.EncodeToString(sum[:]) + "\n")
	}
	path := filepath.Join(dir, "keys-"+strings.ReplaceAll(strings.ReplaceAll(names, ",", "_"), " ", ""))
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// natsCluster starts n embedded nats-servers with JetStream, routed to
// each other on loopback (one server alone is not clustered).
func (w *world) natsCluster(n int) error {
	w.clusterCfgs = make([]natsembed.Config, n)
	if n == 1 {
		w.clusterCfgs[0] = natsembed.Config{ClientAddr: "127.0.0.1:0", StoreDir: filepath.Join(w.dir, "nats-1")}
	} else {
		ports := make([]int, n)
		var routes []string
		for i := range ports {
			p, err := freePort()
			if err != nil {
				return err
			}
			ports[i] = p
			routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
		}
		for i := range n {
			w.clusterCfgs[i] = natsembed.Config{
				ServerName:  fmt.Sprintf("n%d", i+1),
				ClientAddr:  "127.0.0.1:0",
				StoreDir:    filepath.Join(w.dir, fmt.Sprintf("nats-%d", i+1)),
				ClusterName: "jetsse-test",
				ClusterAddr: fmt.Sprintf("127.0.0.1:%d", ports[i]),
				Routes:      routes,
			}
		}
	}
	w.cluster = make([]*natsserver.Server, n)
	w.clusterURLs = make([]string, n)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return w.startClusterServers(all...)
}

// startClusterServers starts the cluster's servers idx, all at once (a
// JetStream cluster is ready only once a quorum of it runs), each with its
// configuration in w.clusterCfgs. A server's first start fixes its client
// address, so a server started again (on its store dir) is where the edges'
// --nats-url says it is.
func (w *world) startClusterServers(idx ...int) error {
	type result struct {
		i   int
		ns  *natsserver.Server
		err error
	}
	results := make(chan result, len(idx))
	for _, i := range idx {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			ns, err := natsembed.Start(ctx, w.clusterCfgs[i])
			results <- result{i, ns, err}
		}()
	}
	var errs []error
	for range idx {
		r := <-results
		if r.err != nil {
			errs = append(errs, fmt.Errorf("NATS server %d: %w", r.i+1, r.err))
			continue
		}
		w.cluster[r.i] = r.ns
		w.clusterCfgs[r.i].ClientAddr = r.ns.Addr().String()
		w.clusterURLs[r.i] = r.ns.ClientURL()
	}
	return errors.Join(errs...)
}

// stopClusterServer shuts the cluster's server i down, as an operator
// stopping its process would (its store stays).
func (w *world) stopClusterServer(i int) {
	if ns := w.cluster[i]; ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}
