package features

// Steps of stream_truth.feature: what operators do to the stream and the
// session bucket with the nats CLI, and what clients see of it.

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

func (w *world) registerStreamTruth(sc *godog.ScenarioContext) {
	sc.Step(`^the operator's JetStream publish of (\d+) bytes to "([^"]*)" is refused$`, w.operatorsBigPublishIsRefused)
	sc.Step(`^the operator waits until "([^"]*)" succeeds$`, w.operatorWaitsUntilSucceeds)
	sc.Step(`^the operator (pauses|resumes) the edge's live consumer$`, w.operatorPausesOrResumesLiveConsumer)
	sc.Step(`^client "(\w+)" receives a live gap with last_event_id "(\d+)" and first_available "(\d+)" after event "(\d+)"$`, w.clientReceivesLiveGap)
	sc.Step(`^no event of client "(\w+)" carries an event type$`, w.noEventCarriesAType)
	sc.Step(`^(\d+) clients subscribe to distinct topics with Last-Event-ID "([^"]*)" and are refused with (\d+)$`, w.clientsAreRefused)

	sc.Step(`^"([^"]*)" answers (\d+) within (\d+) seconds$`, w.pathAnswersWithin)
	sc.Step(`^the server stops within (\d+) seconds, having logged at most (\d+) warnings?$`, w.serverStopsWithFewWarnings)
	sc.Step(`^the server is stopped and its session key file is deleted$`, w.serverLosesItsSessionKey)
	sc.Step(`^the server does not start again with "([^"]*)", saying "([^"]*)"$`, w.serverDoesNotStartAgain)
	sc.Step(`^the server's log has a warning containing "([^"]*)"$`, w.serverLogHasWarning)
}

func (w *world) operatorsBigPublishIsRefused(n int, subject string) error {
	out, err := w.natsCLIArgs("pub", "--jetstream", subject, strings.Repeat("x", n))
	if err == nil {
		return fmt.Errorf("nats pub --jetstream of %d bytes succeeded:\n%s", n, out)
	}
	return nil
}

func (w *world) operatorWaitsUntilSucceeds(command string) error {
	return eventually(func() error { return w.runNATS(command) })
}

func (w *world) operatorPausesOrResumesLiveConsumer(verb string) error {
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

// clientReceivesLiveGap waits for the client's gap event, checks it says
// last and first, and that it came right after event after, with no event
// between them.
func (w *world) clientReceivesLiveGap(name, last, first, after string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	raw, err := c.waitGap(last, first)
	if err != nil {
		return err
	}
	afterAt, gapAt := strings.Index(raw, "id: "+after+"\n"), strings.Index(raw, "event: gap")
	if afterAt < 0 || gapAt < afterAt {
		return fmt.Errorf("the gap did not come after event %s: %.600q", after, raw)
	}
	if next := strings.Index(raw[afterAt+1:], "\nid: "); next >= 0 && afterAt+1+next < gapAt {
		return fmt.Errorf("an event came between event %s and the gap: %.600q", after, raw)
	}
	return nil
}

// noEventCarriesAType checks no event the client got has a type, and the
// only event: line of its stream is the session event's.
func (w *world) noEventCarriesAType(name string) error {
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
}

// clientsAreRefused sends n subscriptions, each to its own long topic with
// Last-Event-ID lastID, and expects each to be refused with status.
func (w *world) clientsAreRefused(n int, lastID string, status int) error {
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
}

func (w *world) pathAnswersWithin(path string, status, secs int) error {
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
}

func (w *world) serverStopsWithFewWarnings(secs, maxWarn int) error {
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
}

func (w *world) serverLosesItsSessionKey() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	if err := s.stop(); err != nil {
		return err
	}
	return os.Remove(filepath.Join(s.dataDir, "session.key"))
}

// serverDoesNotStartAgain expects starting the server again with flags to
// fail with want in the first line of the error.
func (w *world) serverDoesNotStartAgain(flags, want string) error {
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
}

func (w *world) serverLogHasWarning(want string) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	if len(logLines(s.logs.String(), "level=WARN", want)) == 0 {
		return fmt.Errorf("no warning containing %q in:\n%s", want, s.logs.String())
	}
	return nil
}
