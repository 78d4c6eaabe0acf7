package features

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cucumber/godog"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/jetsse/jetsse/pkg/natsembed"
)

func (w *world) register(sc *godog.ScenarioContext) {
	w.registerServer(sc)
	w.registerPublish(sc)
	w.registerClients(sc)
	w.registerSessions(sc)
	w.registerOps(sc)
	w.registerOperator(sc)
	w.registerStreamTruth(sc)
	w.registerMemory(sc)
	w.registerBrowser(sc)
}

func (w *world) registerServer(sc *godog.ScenarioContext) {
	sc.Step(`^a jetsse server$`, func() error {
		_, err := w.startServer("edge", filepath.Join(w.dir, "edge"), nil)
		return err
	})
	sc.Step(`^a jetsse server with "([^"]*)"$`, func(flags string) error {
		_, err := w.startServer("edge", filepath.Join(w.dir, "edge"), strings.Fields(flags))
		return err
	})
	sc.Step(`^a jetsse server with session keys "([^"]*)"$`, func(keys string) error {
		dir := filepath.Join(w.dir, "edge")
		path, err := writeKeyFile(dir, keys)
		if err != nil {
			return err
		}
		_, err = w.startServer("edge", dir, []string{"--session-key-file", path})
		return err
	})
	sc.Step(`^the server restarts with "([^"]*)"$`, func(flags string) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		if err := s.stop(); err != nil {
			return err
		}
		_, err = w.startServer(s.name, s.dataDir, strings.Fields(flags))
		return err
	})
	sc.Step(`^the server restarts with session keys "([^"]*)"$`, func(keys string) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		if err := s.stop(); err != nil {
			return err
		}
		path, err := writeKeyFile(s.dataDir, keys)
		if err != nil {
			return err
		}
		_, err = w.startServer(s.name, s.dataDir, []string{"--session-key-file", path})
		return err
	})

	sc.Step(`^a jetsse process$`, func() error {
		_, err := w.startProcess("edge", filepath.Join(w.dir, "edge"), nil)
		return err
	})
	sc.Step(`^the jetsse process is killed with SIGKILL$`, func() error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		return s.kill()
	})
	sc.Step(`^the jetsse process is stopped with SIGTERM$`, func() error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		if s.proc == nil {
			return errors.New("needs a jetsse process")
		}
		return s.stop()
	})
	sc.Step(`^the jetsse process is started again on the same data dir$`, func() error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		_, err = w.startProcess(s.name, s.dataDir, nil)
		return err
	})

	sc.Step(`^a NATS cluster of (\d+) servers$`, w.natsCluster)
	sc.Step(`^a NATS server$`, func() error { return w.natsCluster(1) })
	sc.Step(`^jetsse edges "([^"]*)" and "([^"]*)" on the cluster with "([^"]*)" sharing session keys "([^"]*)"$`, func(a, b, flags, keys string) error {
		keyFile, err := writeKeyFile(w.dir, keys)
		if err != nil {
			return err
		}
		for _, name := range []string{a, b} {
			args := append([]string{"--nats-url", strings.Join(w.clusterURLs, ","), "--node-id", name, "--session-key-file", keyFile}, strings.Fields(flags)...)
			if _, err := w.startServer(name, filepath.Join(w.dir, name), args); err != nil {
				return err
			}
		}
		return nil
	})

	sc.Step(`^the server is asked to stop$`, func() error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		s.cancel()
		return nil
	})
	sc.Step(`^the server stops$`, func() error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		select {
		case err := <-s.done:
			s.done <- err
			return err
		case <-time.After(waitTimeout):
			return errors.New("the server did not stop")
		}
	})
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
// each other on loopback.
func (w *world) natsCluster(n int) error {
	if n == 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ns, err := natsembed.Start(ctx, natsembed.Config{ClientAddr: "127.0.0.1:0", StoreDir: filepath.Join(w.dir, "nats-1")})
		if err != nil {
			return err
		}
		w.cluster = append(w.cluster, ns)
		w.clusterURLs = append(w.clusterURLs, ns.ClientURL())
		return nil
	}
	ports := make([]int, n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return err
		}
		ports[i] = p
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	type result struct {
		ns  *natsserver.Server
		err error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			ns, err := natsembed.Start(ctx, natsembed.Config{
				ServerName:  fmt.Sprintf("n%d", i+1),
				ClientAddr:  "127.0.0.1:0",
				StoreDir:    filepath.Join(w.dir, fmt.Sprintf("nats-%d", i+1)),
				ClusterName: "jetsse-test",
				ClusterAddr: fmt.Sprintf("127.0.0.1:%d", ports[i]),
				Routes:      routes,
			})
			results <- result{ns, err}
		}()
	}
	for range n {
		r := <-results
		if r.err != nil {
			return r.err
		}
		w.cluster = append(w.cluster, r.ns)
		w.clusterURLs = append(w.clusterURLs, r.ns.ClientURL())
	}
	return nil
}
