package features

// Publishing steps several features share, and the publishers behind them.
// Every acknowledged publish is recorded in w.published, which the Then
// steps expect clients to receive.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// quoted matches a Go-escaped string inside double quotes.
const quoted = `"((?:[^"\\]|\\.)*)"`

func unquote(s string) (string, error) { return strconv.Unquote(`"` + s + `"`) }

func (w *world) registerCommonPublishing(sc *godog.ScenarioContext) {
	sc.Step(`^(\d+) events? (?:are|is) published to "([^"]*)"$`, w.eventsArePublished)
	sc.Step(`^(\d+) events of (\d+) bytes are published to "([^"]*)"$`, w.eventsOfSizeArePublished)
	sc.Step(`^an event is published over (NATS|HTTP) to "([^"]*)" with type `+quoted+` and data `+quoted+`$`, w.eventIsPublishedOver)
	sc.Step(`^I POST /publish with the token and body `+quoted+`$`, w.postPublishWithTheToken)
	sc.Step(`^I POST /publish with the token and a body of (\d+) bytes$`, w.postPublishOfSize)
	sc.Step(`^the stream holds (\d+) events?$`, w.streamHolds)
}

func (w *world) eventsArePublished(n int, topic string) error {
	for i := range n {
		if _, err := w.publishNATS(topic, "", fmt.Sprintf("%s #%d", topic, i+1)); err != nil {
			return err
		}
	}
	return nil
}

// eventsOfSizeArePublished publishes n events asynchronously, 256 in flight
// at most, as fast as the stream acknowledges them.
func (w *world) eventsOfSizeArePublished(n, size int, topic string) error {
	js, err := w.js()
	if err != nil {
		return err
	}
	data := strings.Repeat("x", size)
	var futures []jetstream.PubAckFuture
	settle := func() error {
		for _, f := range futures {
			select {
			case ack := <-f.Ok():
				w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Data: data})
			case err := <-f.Err():
				return err
			case <-time.After(waitTimeout):
				return errors.New("publish not acknowledged")
			}
		}
		futures = futures[:0]
		return nil
	}
	for range n {
		f, err := js.PublishAsync("events."+topic, []byte(data), jetstream.WithExpectStream("EVENTS"))
		if err != nil {
			return err
		}
		if futures = append(futures, f); len(futures) == 256 {
			if err := settle(); err != nil {
				return err
			}
		}
	}
	return settle()
}

func (w *world) eventIsPublishedOver(via, topic, typ, data string) error {
	typ, err := unquote(typ)
	if err != nil {
		return err
	}
	if data, err = unquote(data); err != nil {
		return err
	}
	if via == "NATS" {
		_, err := w.publishNATS(topic, typ, data)
		return err
	}
	body, _ := json.Marshal(map[string]string{"topic": topic, "event": typ, "data": data})
	if err := w.publishHTTP(body, "test-publish-token"); err != nil {
		return err
	}
	var r struct{ ID string }
	if err := json.Unmarshal([]byte(w.body), &r); err != nil || w.status != 200 {
		return fmt.Errorf("publish answered %d %s", w.status, w.body)
	}
	seq, err := strconv.ParseUint(r.ID, 10, 64)
	if err != nil {
		return fmt.Errorf("publish id %q: %w", r.ID, err)
	}
	w.published = append(w.published, published{Seq: seq, Topic: topic, Type: typ, Data: data})
	return nil
}

func (w *world) postPublishWithTheToken(body string) error {
	b, err := unquote(body)
	if err != nil {
		return err
	}
	return w.publishHTTP([]byte(b), "test-publish-token")
}

func (w *world) postPublishOfSize(n int) error {
	body := `{"topic":"a","data":"` + strings.Repeat("x", n) + `"}`
	return w.publishHTTP([]byte(body), "test-publish-token")
}

func (w *world) streamHolds(n int) error {
	st, err := w.stream()
	if err != nil {
		return err
	}
	if got := st.CachedInfo().State.Msgs; got != uint64(n) {
		return fmt.Errorf("stream holds %d events, want %d", got, n)
	}
	return nil
}

// publishNATS publishes one event over NATS (JetStream publish, so the
// sequence is known) and records it.
func (w *world) publishNATS(topic, typ, data string) (uint64, error) {
	js, err := w.js()
	if err != nil {
		return 0, err
	}
	msg := nats.NewMsg("events." + topic)
	msg.Data = []byte(data)
	if typ != "" {
		msg.Header.Set("Sse-Event", typ)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return 0, err
	}
	w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Type: typ, Data: data})
	return ack.Sequence, nil
}

// publishHTTP POSTs body to /publish with token and keeps the response.
func (w *world) publishHTTP(body []byte, token string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPost, s.base()+"/publish", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return w.do(req)
}

// publisher publishes to one topic over NATS in the background, one event
// at a time, while a step does something else; it records what was
// acknowledged in w.published.
type publisher struct {
	mu      sync.Mutex // held while w.published grows
	err     error
	stop    chan struct{}
	stopped chan struct{}
}

// startPublisher publishes events "<label> 0", "<label> 1", … to topic,
// pausing pace after each, until halted or a publish fails.
func (w *world) startPublisher(topic, label string, pace time.Duration) (*publisher, error) {
	js, err := w.js()
	if err != nil {
		return nil, err
	}
	p := &publisher{stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			data := fmt.Sprintf("%s %d", label, i)
			ack, err := js.Publish(context.Background(), "events."+topic, []byte(data))
			p.mu.Lock()
			if err != nil {
				p.err = err
				p.mu.Unlock()
				return
			}
			w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Data: data})
			p.mu.Unlock()
			if pace > 0 {
				time.Sleep(pace) // publish pacing
			}
		}
	}()
	return p, nil
}

// locked runs f while the publisher cannot record an event.
func (p *publisher) locked(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// halt stops publishing and returns the error that stopped it early, if
// any.
func (p *publisher) halt() error {
	close(p.stop)
	<-p.stopped
	return p.err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
