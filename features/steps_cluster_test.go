package features

// Steps of cluster.feature: edges on a NATS cluster, and clients that move
// between them.

import (
	"path/filepath"
	"strings"

	"github.com/cucumber/godog"
)

func (w *world) registerCluster(sc *godog.ScenarioContext) {
	sc.Step(`^a NATS cluster of (\d+) servers$`, w.natsCluster)
	sc.Step(`^jetsse edges "([^"]*)" and "([^"]*)" on the cluster with "([^"]*)" sharing session keys "([^"]*)"$`, w.edgesOnTheCluster)
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" on "([^"]*)"$`, w.clientSubscribesOn)
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" on "([^"]*)" with the session of client "(\w+)"$`, w.subscribeWithSessionOf)
	sc.Step(`^client "(\w+)" reconnects to "([^"]*)" with its session cookie only$`, w.clientReconnectsToWithCookie)
}

// edgesOnTheCluster starts edges a and b on the NATS cluster with flags and
// the same session keys.
func (w *world) edgesOnTheCluster(a, b, flags, keys string) error {
	return w.startEdgesOnCluster(a, b, flags, keys, w.startServer)
}

// startEdgesOnCluster starts edges a and b with start (in-process or as
// processes) on the NATS cluster, with flags and the same session keys.
func (w *world) startEdgesOnCluster(a, b, flags, keys string, start func(name, dataDir string, extra []string) (*server, error)) error {
	keyFile, err := writeKeyFile(w.dir, keys)
	if err != nil {
		return err
	}
	for _, name := range []string{a, b} {
		args := append([]string{"--nats-url", strings.Join(w.clusterURLs, ","), "--node-id", name, "--session-key-file", keyFile}, strings.Fields(flags)...)
		if _, err := start(name, filepath.Join(w.dir, name), args); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) clientSubscribesOn(name, topics, srv string) error {
	return w.subscribe(name, topics, srv, connectOptions{})
}

// clientReconnectsToWithCookie moves client name to server srv, keeping
// what it expects, and reconnects it with its cookie.
func (w *world) clientReconnectsToWithCookie(name, srv string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	since := w.since[name]
	if _, err := w.newClient(name, srv, strings.Join(c.topics, ",")); err != nil {
		return err
	}
	w.since[name] = since
	return w.clientReconnectsWithCookie(name)
}
