package features

// Steps of bad_input.feature: malformed subscriptions, and clients that
// never read or fall behind.

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/cucumber/godog"
)

func (w *world) registerBadInput(sc *godog.ScenarioContext) {
	sc.Step(`^a client subscribes to (\d+) topics$`, w.clientSubscribesToNTopics)
	sc.Step(`^a client subscribes to a topic of (\d+) bytes$`, w.clientSubscribesToLongTopic)
	sc.Step(`^a client subscribes to "([^"]*)" with Last-Event-ID header "([^"]*)"$`, w.clientSubscribesWithLastEventIDHeader)

	sc.Step(`^(\d+) events of (\d+) bytes are published to "([^"]*)" at (\d+) per second$`, w.eventsArePublishedAtRate)
	sc.Step(`^the client that never reads is disconnected by the server$`, w.slowClientIsDisconnected)
	sc.Step(`^the slow client disconnects metric is at least (\d+)$`, w.slowClientDisconnectsAtLeast)

	sc.Step(`^a NATS server$`, w.natsServer)
	sc.Step(`^a jetsse process on the cluster with "([^"]*)"$`, w.processOnTheCluster)
	sc.Step(`^(\d+) clients that never read subscribe to "([^"]*)"$`, w.clientsThatNeverReadSubscribe)
	sc.Step(`^the jetsse process's resident memory grew by less than (\d+) MiB$`, w.residentMemoryGrewLessThan)
	sc.Step(`^within (\d+) seconds the server has (\d+) connections$`, w.serverHasConnectionsWithin)
}

func (w *world) clientSubscribesToNTopics(n int) error {
	q := url.Values{}
	for i := range n {
		q.Add("topic", fmt.Sprintf("t%d", i))
	}
	return w.rawSubscribe(q.Encode(), nil)
}

func (w *world) clientSubscribesToLongTopic(n int) error {
	return w.rawSubscribe("topic="+strings.Repeat("a", n), nil)
}

func (w *world) clientSubscribesWithLastEventIDHeader(topic, id string) error {
	return w.rawSubscribe("topic="+url.QueryEscape(topic), http.Header{"Last-Event-Id": {id}})
}

// rawSubscribe sends one subscribe request and keeps the status and, for a
// refusal, the body; a stream is closed at once.
func (w *world) rawSubscribe(query string, h http.Header) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodGet, s.base()+"/events?"+query, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w.status, w.header = resp.StatusCode, resp.Header
	if resp.StatusCode != http.StatusOK {
		w.body = readAllLimited(resp, 1<<16)
	}
	return nil
}

func (w *world) eventsArePublishedAtRate(n, size int, topic string, rate int) error {
	data := strings.Repeat("x", size)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for range n {
		<-tick.C
		if _, err := w.publishNATS(topic, "", data); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) slowClientIsDisconnected() error {
	return w.waitMetricAtLeast("jetsse_slow_client_disconnects_total", 1)
}

func (w *world) slowClientDisconnectsAtLeast(n int) error {
	return w.waitMetricAtLeast("jetsse_slow_client_disconnects_total", float64(n))
}

func (w *world) waitMetricAtLeast(name string, min float64) error {
	return eventually(func() error {
		v, err := w.metric(name)
		if err == nil && v < min {
			err = fmt.Errorf("%s = %v, want at least %v", name, v, min)
		}
		return err
	})
}

func (w *world) natsServer() error { return w.natsCluster(1) }

func (w *world) processOnTheCluster(flags string) error {
	args := append([]string{"--nats-url", strings.Join(w.clusterURLs, ",")}, strings.Fields(flags)...)
	_, err := w.startProcess("edge", filepath.Join(w.dir, "edge"), args)
	return err
}

// clientsThatNeverReadSubscribe notes the process's resident memory, then
// subscribes n clients that never read.
func (w *world) clientsThatNeverReadSubscribe(n int, topic string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	if w.rssBefore, err = s.rss(); err != nil {
		return err
	}
	for i := range n {
		if err := w.neverReader(fmt.Sprintf("slow%d", i), topic); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) residentMemoryGrewLessThan(mib int64) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	after, err := s.rss()
	if err != nil {
		return err
	}
	if after-w.rssBefore >= mib<<20 {
		return fmt.Errorf("RSS grew from %d to %d KiB", w.rssBefore>>10, after>>10)
	}
	return nil
}

func (w *world) serverHasConnectionsWithin(secs int, n float64) error {
	return within(time.Duration(secs)*time.Second, func() error { return w.metricIs("jetsse_connections", n) })
}
