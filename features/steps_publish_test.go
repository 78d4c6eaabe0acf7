package features

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// do sends a plain request and keeps its response for the Then steps.
func (w *world) do(req *http.Request) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	w.status, w.body, w.header = resp.StatusCode, string(b), resp.Header
	return nil
}

func (w *world) registerPublish(sc *godog.ScenarioContext) {
	sc.Step(`^(\d+) events? (?:are|is) published to "([^"]*)"$`, func(n int, topic string) error {
		for i := range n {
			if _, err := w.publishNATS(topic, "", fmt.Sprintf("%s #%d", topic, i+1)); err != nil {
				return err
			}
		}
		return nil
	})
	sc.Step(`^events are published to "([^"]*)"$`, func(list string) error {
		for _, topic := range splitList(list) {
			if _, err := w.publishNATS(topic, "", "on "+topic); err != nil {
				return err
			}
		}
		return nil
	})
	sc.Step(`^(\d+) events of (\d+) bytes are published to "([^"]*)" at (\d+) per second$`, func(n, size int, topic string, rate int) error {
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
	})
	sc.Step(`^(\d+) events of (\d+) bytes are published to "([^"]*)" one at a time$`, func(n, size int, topic string) error {
		data := strings.Repeat("x", size)
		for range n {
			if _, err := w.publishNATS(topic, "", data); err != nil {
				return err
			}
		}
		return nil
	})
	sc.Step(`^(\d+) events of (\d+) bytes are published to "([^"]*)"$`, func(n, size int, topic string) error {
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
	})
	sc.Step(`^an event is published over (NATS|HTTP) to "([^"]*)" with type `+quoted+` and data `+quoted+`$`, func(via, topic, typ, data string) error {
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
		if err := w.publishHTTP(body, "test-token"); err != nil {
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
	})
	sc.Step(`^I POST /publish with token "([^"]*)" and body `+quoted+`$`, func(token, body string) error {
		b, err := unquote(body)
		if err != nil {
			return err
		}
		return w.publishHTTP([]byte(b), token)
	})
	sc.Step(`^I POST /publish with the token and body `+quoted+`$`, func(body string) error {
		b, err := unquote(body)
		if err != nil {
			return err
		}
		return w.publishHTTP([]byte(b), "test-token")
	})
	sc.Step(`^I POST /publish with the token and a body of (\d+) bytes$`, func(n int) error {
		body := `{"topic":"a","data":"` + strings.Repeat("x", n) + `"}`
		return w.publishHTTP([]byte(body), "test-token")
	})
	sc.Step(`^the response JSON has the event's id$`, func() error {
		var r struct{ ID string }
		if err := json.Unmarshal([]byte(w.body), &r); err != nil {
			return fmt.Errorf("response %q: %w", w.body, err)
		}
		if len(w.published) == 0 || r.ID != strconv.FormatUint(w.published[len(w.published)-1].Seq, 10) {
			return fmt.Errorf("response id %q, published %v", r.ID, w.published)
		}
		return nil
	})
	sc.Step(`^the stream holds (\d+) events?$`, func(n int) error {
		st, err := w.stream()
		if err != nil {
			return err
		}
		if got := st.CachedInfo().State.Msgs; got != uint64(n) {
			return fmt.Errorf("stream holds %d events, want %d", got, n)
		}
		return nil
	})
	sc.Step(`^the stream's first sequence passes (\d+)$`, func(seq uint64) error {
		js, err := w.js()
		if err != nil {
			return err
		}
		return eventually(func() error {
			st, err := js.Stream(context.Background(), "EVENTS")
			if err != nil {
				return err
			}
			if first := st.CachedInfo().State.FirstSeq; first <= seq {
				return fmt.Errorf("first sequence still %d", first)
			}
			return nil
		})
	})
	sc.Step(`^(\d+) events are published to "([^"]*)" while the jetsse process is killed with SIGKILL partway$`, w.publishWhileKilled)
	sc.Step(`^the stream holds every event whose publish was acknowledged$`, func() error {
		js, err := w.js()
		if err != nil {
			return err
		}
		st, err := js.Stream(context.Background(), "EVENTS")
		if err != nil {
			return err
		}
		if len(w.published) == 0 {
			return errors.New("no publish was acknowledged before the kill")
		}
		for _, p := range w.published {
			m, err := st.GetMsg(context.Background(), p.Seq)
			if err != nil {
				return fmt.Errorf("acknowledged event %d is gone: %w", p.Seq, err)
			}
			if string(m.Data) != p.Data {
				return fmt.Errorf("event %d holds %q, published %q", p.Seq, m.Data, p.Data)
			}
		}
		return nil
	})
}

// publishWhileKilled publishes n events one at a time and SIGKILLs the
// server process once half were acknowledged; it records only acknowledged
// publishes.
func (w *world) publishWhileKilled(n int, topic string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	js, err := w.js()
	if err != nil {
		return err
	}
	var once sync.Once
	var killErr error
	for i := range n {
		if i == n/2 {
			go once.Do(func() { killErr = s.kill() })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		data := fmt.Sprintf("burst %d", i)
		ack, err := js.Publish(ctx, "events."+topic, []byte(data))
		cancel()
		if err != nil {
			break // the server is gone: the rest were never acknowledged
		}
		w.published = append(w.published, published{Seq: ack.Sequence, Topic: topic, Data: data})
	}
	once.Do(func() { killErr = s.kill() }) // kill waits for the process to exit
	return killErr
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
