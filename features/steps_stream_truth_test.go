package features

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
)

// Steps of stream_truth.feature: what operators do to the stream and the
// session bucket with the nats CLI, and what clients see of it.
func (w *world) registerStreamTruth(sc *godog.ScenarioContext) {
	sc.Step(`^the operator's JetStream publish of (\d+) bytes to "([^"]*)" is refused$`, func(n int, subject string) error {
		out, err := w.natsCLIArgs("pub", "--jetstream", subject, strings.Repeat("x", n))
		if err == nil {
			return fmt.Errorf("nats pub --jetstream of %d bytes succeeded:\n%s", n, out)
		}
		return nil
	})
	sc.Step(`^the operator waits until "([^"]*)" succeeds$`, func(command string) error {
		return eventually(func() error { return w.runNATS(command) })
	})
	sc.Step(`^the operator (pauses|resumes) the edge's live consumer$`, func(verb string) error {
		name, err := w.liveConsumer()
		if err != nil {
			return err
		}
		if verb == "pauses" {
			until := time.Now().Add(time.Hour).UTC().Format(time.DateTime)
			_, err = w.natsCLIArgs("consumer", "pause", "EVENTS", name, until, "-f")
		} else {
			_, err = w.natsCLIArgs("consumer", "resume", "EVENTS", name, "-f")
		}
		return err
	})
	sc.Step(`^client "(\w+)" receives a live gap with last_event_id "(\d+)" and first_available "(\d+)" after event "(\d+)"$`, func(name, last, first, after string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		if err := c.waitFor(waitTimeout, "a gap event", func() bool { return countType(c.control, "gap") > 0 }); err != nil {
			return err
		}
		g, _ := c.lastControl("gap")
		if want := fmt.Sprintf(`{"last_event_id":"%s","first_available":"%s"}`, last, first); g.Data != want {
			return fmt.Errorf("gap %s, want %s", g.Data, want)
		}
		c.mu.Lock()
		raw := string(c.raw)
		c.mu.Unlock()
		afterAt, gapAt := strings.Index(raw, "id: "+after+"\n"), strings.Index(raw, "event: gap")
		if afterAt < 0 || gapAt < afterAt {
			return fmt.Errorf("the gap did not come after event %s: %.600q", after, raw)
		}
		if next := strings.Index(raw[afterAt+1:], "\nid: "); next >= 0 && afterAt+1+next < gapAt {
			return fmt.Errorf("an event came between event %s and the gap: %.600q", after, raw)
		}
		return nil
	})
	sc.Step(`^"([^"]*)" answers (\d+) within (\d+) seconds$`, func(path string, status, secs int) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		return within(time.Duration(secs)*time.Second, func() error {
			resp, err := http.Get(s.base() + path)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != status {
				return fmt.Errorf("%s answered %d, want %d", path, resp.StatusCode, status)
			}
			return nil
		})
	})
	sc.Step(`^the server stops within (\d+) seconds, having logged at most (\d+) warnings?$`, func(secs, maxWarn int) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		select {
		case err := <-s.done:
			s.done <- err
			if err != nil {
				return err
			}
		case <-time.After(time.Duration(secs) * time.Second):
			return fmt.Errorf("the server did not stop within %d s", secs)
		}
		if warns := logLines(s.logs.String(), "level=WARN", ""); len(warns) > maxWarn {
			return fmt.Errorf("the server logged %d warnings:\n%s", len(warns), strings.Join(warns, "\n"))
		}
		return nil
	})
	sc.Step(`^the server is stopped and its session key file is deleted$`, func() error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		if err := s.stop(); err != nil {
			return err
		}
		return os.Remove(filepath.Join(s.dataDir, "session.key"))
	})
	sc.Step(`^the server does not start again with "([^"]*)", saying "([^"]*)"$`, func(flags, want string) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		_, err = w.startServer(s.name, s.dataDir, strings.Fields(flags))
		if err == nil {
			return errors.New("the server started")
		}
		if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.Contains(first, want) {
			return fmt.Errorf("the server did not start, but not saying %q: %v", want, err)
		}
		return nil
	})
	sc.Step(`^the server's log has a warning containing "([^"]*)"$`, func(want string) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		if len(logLines(s.logs.String(), "level=WARN", want)) == 0 {
			return fmt.Errorf("no warning containing %q in:\n%s", want, s.logs.String())
		}
		return nil
	})
	sc.Step(`^no event of client "(\w+)" carries an event type$`, func(name string) error {
		c, err := w.client(name)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, e := range c.events {
			if e.Type != "" {
				return fmt.Errorf("client %q got event %s with type %q", name, e.ID, e.Type)
			}
		}
		if n := strings.Count(string(c.raw), "\nevent: "); n != 1 {
			return fmt.Errorf("the stream has %d event: lines, want only the session's: %.600q", n, c.raw)
		}
		return nil
	})
	sc.Step(`^(\d+) clients subscribe to distinct topics with Last-Event-ID "([^"]*)" and are refused with (\d+)$`, func(n int, lastID string, status int) error {
		s, err := w.defaultServer()
		if err != nil {
			return err
		}
		for i := range n {
			req, _ := http.NewRequest(http.MethodGet, s.base()+"/events?topic=distinct."+strconv.Itoa(i)+"."+strings.Repeat("t", 200), nil)
			req.Header.Set("Last-Event-ID", lastID)
			if err := w.do(req); err != nil {
				return err
			}
			if w.status != status {
				return fmt.Errorf("request %d answered %d, want %d: %s", i, w.status, status, w.body)
			}
		}
		return nil
	})
}

// liveConsumer returns the name of the edge's live (ordered) consumer on
// the stream: the one that is not a session's.
func (w *world) liveConsumer() (string, error) {
	out, err := w.natsCLIArgs("consumer", "ls", "EVENTS", "--names")
	if err != nil {
		return "", err
	}
	var live []string
	for _, name := range strings.Fields(out) {
		if !strings.HasPrefix(name, "sse-") {
			live = append(live, name)
		}
	}
	if len(live) != 1 {
		return "", fmt.Errorf("want one live consumer, found %v in:\n%s", live, out)
	}
	return live[0], nil
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
