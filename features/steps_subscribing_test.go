package features

// Steps of subscribing.feature: the stream's headers and framing, topic
// filters, and heartbeats.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
)

func (w *world) registerSubscribing(sc *godog.ScenarioContext) {
	sc.Step(`^events are published to "([^"]*)"$`, w.oneEventIsPublishedToEach)
	sc.Step(`^the response to client "(\w+)" has header "([^"]*)" "([^"]*)"$`, w.responseToClientHasHeader)
	sc.Step(`^client "(\w+)" got a session token as a cookie and a header$`, w.clientGotTokenAsCookieAndHeader)
	sc.Step(`^the stream of client "(\w+)" starts with a retry between (\d+) and (\d+) ms, then a session event$`, w.streamStartsWithRetryThenSession)
	sc.Step(`^client "(\w+)" received events on exactly "([^"]*)"$`, w.clientReceivedEventsOnExactly)
	sc.Step(`^every event of client "(\w+)" has its stream sequence as id$`, w.everyEventHasItsSequenceAsID)
	sc.Step(`^client "(\w+)" receives at least (\d+) heartbeat comments$`, w.clientReceivesHeartbeats)
}

// oneEventIsPublishedToEach publishes one event to each topic of list.
func (w *world) oneEventIsPublishedToEach(list string) error {
	for _, topic := range splitList(list) {
		if _, err := w.publishNATS(topic, "", "on "+topic); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) responseToClientHasHeader(name, h, v string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if got := c.header.Get(h); got != v {
		return fmt.Errorf("header %s = %q, want %q", h, got, v)
	}
	return nil
}

// clientGotTokenAsCookieAndHeader checks the Jetsse-Session header and the
// jetsse_session cookie carry the same token, and the cookie is HttpOnly,
// SameSite=Lax and for every path.
func (w *world) clientGotTokenAsCookieAndHeader(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if c.token == "" || c.token != c.cookie {
		return fmt.Errorf("header token %q, cookie %q", c.token, c.cookie)
	}
	for _, sc := range c.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "jetsse_session=") {
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
				if !strings.Contains(sc, attr) {
					return fmt.Errorf("cookie %q lacks %s", sc, attr)
				}
			}
			return nil
		}
	}
	return errors.New("no jetsse_session cookie")
}

func (w *world) streamStartsWithRetryThenSession(name string, lo, hi int) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	raw := string(c.raw)
	c.mu.Unlock()
	var ms int
	rest, ok := strings.CutPrefix(raw, "retry: ")
	if !ok {
		return fmt.Errorf("stream starts with %.40q", raw)
	}
	if _, err := fmt.Sscanf(rest, "%d\n\nevent: session\n", &ms); err != nil {
		return fmt.Errorf("stream starts with %.80q: %v", raw, err)
	}
	if ms < lo || ms > hi {
		return fmt.Errorf("retry %d ms not within [%d, %d]", ms, lo, hi)
	}
	if !strings.Contains(raw, "\n\nevent: session\ndata: {") {
		return fmt.Errorf("no session event after retry: %.120q", raw)
	}
	return nil
}

// clientReceivedEventsOnExactly checks the topics of the client's events,
// in order, are list.
func (w *world) clientReceivedEventsOnExactly(name, list string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	var got []string
	bySeq := map[string]string{}
	for _, p := range w.published {
		bySeq[strconv.FormatUint(p.Seq, 10)] = p.Topic
	}
	c.mu.Lock()
	for _, e := range c.events {
		got = append(got, bySeq[e.ID])
	}
	c.mu.Unlock()
	if want := splitList(list); !slices.Equal(got, want) {
		return fmt.Errorf("client %q received events on %v, want %v", name, got, want)
	}
	return nil
}

func (w *world) everyEventHasItsSequenceAsID(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	want, _ := w.expectedFor(c)
	got := c.eventIDs()
	if len(got) != len(want) {
		return fmt.Errorf("got %v, published %v", got, pubIDs(want))
	}
	for i := range got {
		if got[i] != want[i].Seq {
			return fmt.Errorf("got %v, published %v", got, pubIDs(want))
		}
	}
	return nil
}

func (w *world) clientReceivesHeartbeats(name string, n int) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return c.waitFor(waitTimeout, fmt.Sprintf("%d comments", n), func() bool { return c.comments >= n })
}
