package features

// How scenarios look at the edge from outside: its metrics, the session
// consumers and records in JetStream, and the nats CLI an operator runs.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// scrape returns the default server's metrics, from its admin listener,
// as name{labels} → value.
func (w *world) scrape() (map[string]float64, error) {
	s, err := w.defaultServer()
	if err != nil {
		return nil, err
	}
	resp, err := http.Get(s.admin() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// metric returns the value of one metric (name{labels}).
func (w *world) metric(name string) (float64, error) {
	m, err := w.scrape()
	if err != nil {
		return 0, err
	}
	v, ok := m[name]
	if !ok {
		return 0, fmt.Errorf("no metric %s", name)
	}
	return v, nil
}

// metricIs fails unless metric name has value want.
func (w *world) metricIs(name string, want float64) error {
	v, err := w.metric(name)
	if err == nil && v != want {
		err = fmt.Errorf("%s = %v, want %v", name, v, want)
	}
	return err
}

// consumerInfo returns the session consumer of client name.
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

// sessionConsumers counts the session consumers on the stream.
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

// sessionRecords counts the session records in the bucket.
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

// natsCLI builds the nats CLI (github.com/nats-io/natscli v0.5.0) once per
// test run, from the Go module proxy, outside this module's requirements.
var natsCLI = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "natscli")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "install", "github.com/nats-io/natscli/nats@v0.5.0")
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("installing the nats CLI: %v\n%s", err, out)
	}
	return filepath.Join(dir, "nats"), nil
})

// runNATS runs a nats CLI command line ("nats stream info EVENTS") against
// the default server's NATS and keeps its output in w.cliOutput. A token
// "<consumer of NAME>" stands for the session consumer of client NAME.
// Publishes ("nats pub …") are recorded as published events.
func (w *world) runNATS(command string) error { return w.runNATSWith(nil, command) }

// runNATSWith is runNATS with extra global CLI flags first (such as --user
// and --password).
func (w *world) runNATSWith(global []string, command string) error {
	args := strings.Fields(command)
	if len(args) < 2 || args[0] != "nats" {
		return fmt.Errorf("not a nats command: %q", command)
	}
	for i, a := range args {
		if a == "<consumer" && i+2 < len(args) {
			id, err := w.sessionIDOf(strings.TrimSuffix(args[i+2], ">"))
			if err != nil {
				return err
			}
			args = append(args[:i], append([]string{"sse-" + id}, args[i+3:]...)...)
			break
		}
	}
	if _, err := w.natsCLIArgs(append(global, args[1:]...)...); err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	if args[1] == "pub" {
		// Record the event; its sequence is the stream's last.
		st, err := w.stream()
		if err != nil {
			return err
		}
		w.published = append(w.published, published{Seq: st.CachedInfo().State.LastSeq, Topic: strings.TrimPrefix(args[2], "events."), Data: args[3]})
	}
	return nil
}

// natsCLIArgs runs the nats CLI with args against the default server and
// keeps its combined output in w.cliOutput.
func (w *world) natsCLIArgs(args ...string) (string, error) {
	s, err := w.defaultServer()
	if err != nil {
		return "", err
	}
	return w.natsCLIRun(append([]string{"--server", s.ready.NATSURL}, args...)...)
}

// natsCLIRun runs the nats CLI with args, its contexts kept in the
// scenario's directory, and keeps its combined output in w.cliOutput.
func (w *world) natsCLIRun(args ...string) (string, error) {
	return w.natsCLIIn(filepath.Join(w.dir, "xdg"), args...)
}

// natsCLIIn is natsCLIRun with the CLI's contexts (a selected one
// included) kept under the directory xdg.
func (w *world) natsCLIIn(xdg string, args ...string) (string, error) {
	bin, err := natsCLI()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, args...)
	// The CLI finds its contexts under $XDG_CONFIG_HOME, else the home
	// directory of the user database (not $HOME).
	cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+w.dir, "XDG_CONFIG_HOME="+xdg)
	out, err := cmd.CombinedOutput()
	w.cliOutput = string(out)
	if err != nil {
		return w.cliOutput, fmt.Errorf("%v\n%s", err, out)
	}
	return w.cliOutput, nil
}

// cliListsSession reports whether the last nats CLI output lists the
// session of client name, by its ID or its consumer's name.
func (w *world) cliListsSession(name string) (bool, error) {
	id, err := w.sessionIDOf(name)
	if err != nil {
		return false, err
	}
	f := strings.Fields(w.cliOutput)
	return slices.Contains(f, "sse-"+id) || slices.Contains(f, id), nil
}
