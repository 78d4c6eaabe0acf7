package features

// Steps several features share: servers, plain HTTP answers, metrics, the
// nats CLI, and sessions as JetStream keeps them. Publishing and clients are
// in steps_common_publish_test.go and steps_common_clients_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/pkg/natsembed"
)

func (w *world) registerCommonServers(sc *godog.ScenarioContext) {
	sc.Step(`^a jetsse server$`, w.jetsseServer)
	sc.Step(`^a jetsse server with "([^"]*)"$`, w.jetsseServerWith)
	sc.Step(`^the server restarts with "([^"]*)"$`, w.serverRestartsWith)
	sc.Step(`^the server is asked to stop$`, w.serverIsAskedToStop)
	sc.Step(`^the jetsse process is killed with SIGKILL$`, w.processIsKilled)
}

func (w *world) registerCommonResponses(sc *godog.ScenarioContext) {
	sc.Step(`^a client requests "([^"]*)"$`, w.clientRequests)
	sc.Step(`^the response status is (\d+)$`, w.responseStatusIs)
	sc.Step(`^the response is a JSON error$`, w.responseIsJSONError)
	sc.Step(`^metrics are scraped until "([^"]*)" is (\S+)$`, w.metricsAreScrapedUntil)
	sc.Step(`^the metrics include$`, w.metricsInclude)
	sc.Step(`^a client that never reads subscribes to "([^"]*)"$`, w.clientThatNeverReadsSubscribes)
	sc.Step(`^the session of client "(\w+)" has its position (\d+) recorded in JetStream$`, w.sessionPositionIsRecorded)
}

func (w *world) registerCommonOperator(sc *godog.ScenarioContext) {
	sc.Step(`^the operator runs "([^"]*)"$`, w.runNATS)
	sc.Step(`^the output shows the stream on "([^"]*)" keeping at most (\d+) messages$`, w.outputShowsStreamLimit)
	sc.Step(`^the operator waits until "([^"]*)" lists the session of client "(\w+)"$`, w.operatorWaitsUntilListed)
}

// Servers.

func (w *world) jetsseServer() error {
	_, err := w.startServer("edge", filepath.Join(w.dir, "edge"), nil)
	return err
}

func (w *world) jetsseServerWith(flags string) error {
	_, err := w.startServer("edge", filepath.Join(w.dir, "edge"), strings.Fields(flags))
	return err
}

func (w *world) serverRestartsWith(flags string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	if err := s.stop(); err != nil {
		return err
	}
	_, err = w.startServer(s.name, s.dataDir, strings.Fields(flags))
	return err
}

func (w *world) serverIsAskedToStop() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	s.cancel()
	return nil
}

func (w *world) processIsKilled() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	return s.kill()
}

// Plain HTTP answers and metrics.

func (w *world) clientRequests(path string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodGet, s.base()+path, nil)
	if err != nil {
		return err
	}
	return w.do(req)
}

func (w *world) responseStatusIs(code int) error {
	if w.status != code {
		return fmt.Errorf("status %d, want %d (body %q)", w.status, code, w.body)
	}
	return nil
}

func (w *world) responseIsJSONError() error {
	if ct := w.header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("Content-Type %q", ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(w.body), &e); err != nil || e.Error == "" {
		return fmt.Errorf("body %q is not {\"error\": …}", w.body)
	}
	return nil
}

func (w *world) metricsAreScrapedUntil(name, value string) error {
	want, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return err
	}
	return eventually(func() error { return w.metricIs(name, want) })
}

// metricsInclude waits until every metric of the table (metric, value) has
// its value (a value ">= n" asks for at least n).
func (w *world) metricsInclude(t *godog.Table) error {
	return eventually(func() error {
		m, err := w.scrape()
		if err != nil {
			return err
		}
		var bad []string
		for _, row := range t.Rows[1:] {
			name, value := row.Cells[0].Value, row.Cells[1].Value
			value, atLeast := strings.CutPrefix(value, ">=")
			want, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return err
			}
			if got, ok := m[name]; !ok || (got != want && !atLeast) || got < want {
				bad = append(bad, fmt.Sprintf("%s = %v (present %v), want %v", name, got, ok, want))
			}
		}
		if len(bad) > 0 {
			return errors.New(strings.Join(bad, "; "))
		}
		return nil
	})
}

func (w *world) clientThatNeverReadsSubscribes(topic string) error {
	return w.neverReader("slow", topic)
}

// neverReader opens a stream for a client that never reads it.
func (w *world) neverReader(name, topic string) error {
	c, err := w.newClient(name, "", topic)
	if err != nil {
		return err
	}
	if err := c.connect(connectOptions{noRead: true}); err != nil {
		return err
	}
	if c.status != http.StatusOK {
		return fmt.Errorf("client that never reads got %d", c.status)
	}
	return nil
}

// The nats CLI.

func (w *world) outputShowsStreamLimit(subject string, max int64) error {
	var info struct {
		Config struct {
			Subjects []string `json:"subjects"`
			MaxMsgs  int64    `json:"max_msgs"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(w.cliOutput), &info); err != nil {
		return fmt.Errorf("stream info output: %v\n%s", err, w.cliOutput)
	}
	if !slices.Contains(info.Config.Subjects, subject) || info.Config.MaxMsgs != max {
		return fmt.Errorf("stream config %+v", info.Config)
	}
	return nil
}

func (w *world) operatorWaitsUntilListed(command, name string) error {
	return eventually(func() error {
		if err := w.runNATS(command); err != nil {
			return err
		}
		if ok, err := w.cliListsSession(name); err != nil || ok {
			return err
		}
		return fmt.Errorf("session of %s not listed:\n%s", name, w.cliOutput)
	})
}

// Sessions in JetStream.

// sessionPositionIsRecorded checks that client name's session is stored
// detached at position pos: in its record and, while its consumer exists,
// as the consumer's ack floor. A stopped server's data dir is read with a
// bare nats-server.
func (w *world) sessionPositionIsRecorded(name string, pos uint64) error {
	id, err := w.sessionIDOf(name)
	if err != nil {
		return err
	}
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	running := s.running()
	js, closeJS, err := w.jetStreamOf(s, running)
	if err != nil {
		return err
	}
	defer closeJS()
	kv, err := js.KeyValue(context.Background(), "jetsse_sessions")
	if err != nil {
		return err
	}
	return eventually(func() error {
		// Each look is bounded: a request lost in a cluster (its reply
		// racing its inbox's interest across the routes) would otherwise
		// wait 5 s, more than a short session TTL leaves the record.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e, err := kv.Get(ctx, id)
		if err != nil {
			return err
		}
		f := strings.Fields(string(e.Value()))
		if len(f) < 3 || f[0] != "v2" || f[1] != "-" || f[2] != strconv.FormatUint(pos, 10) {
			return fmt.Errorf("session record %q, want detached at position %d", e.Value(), pos)
		}
		c, err := js.Consumer(ctx, "EVENTS", "sse-"+id)
		if errors.Is(err, jetstream.ErrConsumerNotFound) && !running {
			return nil // memory-stored consumers do not outlive the server
		}
		if err != nil {
			return err
		}
		if got := consumerPosition(c.CachedInfo()); got != pos {
			return fmt.Errorf("consumer at %d (ack floor %+v, delivered %+v), want %d", got, c.CachedInfo().AckFloor, c.CachedInfo().Delivered, pos)
		}
		return nil
	})
}

// consumerPosition is the position a session's consumer holds: its ack
// floor, or, when it has no delivery unacknowledged, the stream sequence it
// delivered up to. A replicated consumer made at a start sequence reports
// an ack floor of 0 until it is reset, but its delivered stream sequence is
// right (nats-server 2.15, on a cluster).
func consumerPosition(info *jetstream.ConsumerInfo) uint64 {
	if info.Delivered.Consumer == info.AckFloor.Consumer {
		return max(info.AckFloor.Stream, info.Delivered.Stream)
	}
	return info.AckFloor.Stream
}

// jetStreamOf returns JetStream on server s: its own NATS while it runs,
// or else a bare nats-server on its data dir, stopped by the returned func.
func (w *world) jetStreamOf(s *server, running bool) (jetstream.JetStream, func(), error) {
	if running {
		js, err := w.js()
		return js, func() {}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ns, err := natsembed.Start(ctx, natsembed.Config{ClientAddr: "127.0.0.1:0", StoreDir: s.dataDir})
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, nil, err
	}
	js, _ := jetstream.New(nc)
	return js, func() { nc.Close(); ns.Shutdown(); ns.WaitForShutdown() }, nil
}
