package features

// Client steps several features share: subscribing, disconnecting and
// reconnecting, and what a client was told and received.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/jetsse/jetsse/pkg/session"
)

func (w *world) registerCommonClients(sc *godog.ScenarioContext) {
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)"$`, w.clientSubscribes)
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" and reconnects like EventSource$`, w.clientSubscribesLikeEventSource)
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" with Last-Event-ID "([^"]*)"$`, w.clientSubscribesWithLastEventID)
	sc.Step(`^client "(\w+)" disconnects$`, w.clientDisconnects)
	sc.Step(`^client "(\w+)" reconnects with its Last-Event-ID$`, w.clientReconnectsWithLastEventID)
	sc.Step(`^client "(\w+)" reconnects with its session cookie only$`, w.clientReconnectsWithCookie)
	sc.Step(`^client "(\w+)" reconnects with its session header only$`, w.clientReconnectsWithHeader)
	sc.Step(`^client "(\w+)" was never disconnected$`, w.clientWasNeverDisconnected)
}

func (w *world) registerCommonClientChecks(sc *godog.ScenarioContext) {
	sc.Step(`^client "(\w+)" has received a gapless run of events ending at id (\d+) that starts at or before id (\d+)$`, w.clientHasReceivedGaplessRun)
	sc.Step(`^client "(\w+)" is told the session was resumed from its last event ID$`, w.clientIsToldResumedFromItsLastEventID)
	sc.Step(`^client "(\w+)" is told the session was resumed from "([^"]*)"$`, w.clientIsToldResumedFrom)
	sc.Step(`^client "(\w+)" is told the session was resumed$`, w.clientIsToldResumed)
	sc.Step(`^client "(\w+)" is told the session is new, live only$`, w.clientIsToldNewLiveOnly)
	sc.Step(`^client "(\w+)" has received (\d+) events?$`, w.clientHasReceivedN)
	sc.Step(`^client "(\w+)" has received every event published to its topics since it subscribed, exactly once and in order$`, w.clientHasReceivedEveryEventExactlyOnce)
	sc.Step(`^client "(\w+)" has received every event published to its topics since it subscribed, at least once, in order on each connection$`, w.clientHasReceivedEveryEventAtLeastOnce)
	sc.Step(`^client "(\w+)" has received the events with ids "([^"]*)"$`, w.clientHasReceivedIDs)
	sc.Step(`^event (\d+) of client "(\w+)" has data `+quoted+` and type `+quoted+`$`, w.eventOfClientHas)
	sc.Step(`^client "(\w+)" receives a gap with last_event_id "(\d+)" and first_available "(\d+)" before any replayed event$`, w.clientReceivesGap)
	sc.Step(`^client "(\w+)" got no gap event$`, w.clientGotNoGap)
	sc.Step(`^client "(\w+)" receives a takeover event for its session and its connection ends$`, w.clientIsTakenOver)
}

// Subscribing, disconnecting, reconnecting.

func (w *world) clientSubscribes(name, topics string) error {
	return w.subscribe(name, topics, "", connectOptions{})
}

func (w *world) clientSubscribesLikeEventSource(name, topics string) error {
	return w.subscribe(name, topics, "", connectOptions{autoReconnect: true})
}

func (w *world) clientSubscribesWithLastEventID(name, topics, id string) error {
	return w.subscribe(name, topics, "", connectOptions{lastEventID: strp(id)})
}

func (w *world) clientDisconnects(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	c.close()
	return nil
}

func (w *world) clientReconnectsWithLastEventID(name string) error {
	return w.reconnect(name, func(c *sseClient) connectOptions {
		return connectOptions{lastEventID: strp(c.lastEventID), cookie: c.cookie}
	})
}

func (w *world) clientReconnectsWithCookie(name string) error {
	return w.reconnect(name, func(c *sseClient) connectOptions { return connectOptions{cookie: c.cookie} })
}

func (w *world) clientReconnectsWithHeader(name string) error {
	return w.reconnect(name, func(c *sseClient) connectOptions { return connectOptions{token: c.token} })
}

func (w *world) clientWasNeverDisconnected(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.connections != 1 || !c.connected {
		return fmt.Errorf("client %q: %d connections, connected %v (%v)", name, c.connections, c.connected, c.endErr)
	}
	return nil
}

// subscribe (re)makes client name on serverName (the default server when
// empty) and subscribes it; the subscription must be accepted.
func (w *world) subscribe(name, topics, serverName string, o connectOptions) error {
	c, err := w.newClient(name, serverName, topics)
	if err != nil {
		return err
	}
	if err := w.open(c, o); err != nil {
		return err
	}
	if w.status != http.StatusOK {
		return fmt.Errorf("subscribe answered %d: %s", w.status, w.body)
	}
	return nil
}

// subscribeWithSessionOf subscribes client name with the session cookie of
// client other, as another tab of the same browser; it expects only what is
// published from then on.
func (w *world) subscribeWithSessionOf(name, topics, serverName, other string) error {
	o, err := w.client(other)
	if err != nil {
		return err
	}
	if err := w.subscribe(name, topics, serverName, connectOptions{cookie: o.cookie}); err != nil {
		return err
	}
	w.since[name] = len(w.published)
	return nil
}

// reconnect ends client name's connection and connects it again presenting
// what o says; the reconnect must be accepted.
func (w *world) reconnect(name string, o func(c *sseClient) connectOptions) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	c.close()
	if err := w.open(c, o(c)); err != nil {
		return err
	}
	if w.status != http.StatusOK {
		return fmt.Errorf("reconnect answered %d: %s", w.status, w.body)
	}
	return nil
}

func strp(s string) *string { return &s }

// What the client was told.

func (w *world) clientIsToldResumedFromItsLastEventID(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return expectSession(c, true, c.lastEventIDAtConnect())
}

func (w *world) clientIsToldResumedFrom(name, id string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return expectSession(c, true, id)
}

func (w *world) clientIsToldResumed(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	if !s.Resumed {
		return fmt.Errorf("session event %+v: not resumed", s)
	}
	return nil
}

func (w *world) clientIsToldNewLiveOnly(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return expectSession(c, false, "")
}

// expectSession checks c's latest session event: resumed or new, after
// which event, and a well-formed session ID.
func expectSession(c *sseClient, resumed bool, after string) error {
	s, err := c.session()
	if err != nil {
		return err
	}
	if s.Resumed != resumed || s.LastEventID != after {
		return fmt.Errorf("client %q was told %+v, want resumed=%v last_event_id=%q", c.name, s, resumed, after)
	}
	if _, err := session.ParseID(s.Session); err != nil {
		return fmt.Errorf("session id %q: %w", s.Session, err)
	}
	return nil
}

// What the client received.

func (w *world) clientHasReceivedN(name string, n int) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if err := c.waitFor(waitTimeout, fmt.Sprintf("%d events", n), func() bool { return len(c.events) >= n }); err != nil {
		return err
	}
	if got := len(c.eventIDs()); got != n {
		return fmt.Errorf("client %q has %d events, want %d: %v", name, got, n, c.eventIDs())
	}
	return nil
}

// clientHasReceivedEveryEventExactlyOnce checks the client's events are
// exactly those published to its topics since it subscribed: same ids,
// types and data, in order.
func (w *world) clientHasReceivedEveryEventExactlyOnce(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	want, err := w.expectedFor(c)
	if err != nil {
		return err
	}
	if err := c.waitFor(waitTimeout, fmt.Sprintf("%d events", len(want)), func() bool { return len(c.events) >= len(want) }); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.events) != len(want) {
		return fmt.Errorf("client %q received %d events, want %d:\n got %v\nwant %v", name, len(c.events), len(want), ids(c.events), pubIDs(want))
	}
	for i, p := range want {
		got := c.events[i]
		if got.ID != strconv.FormatUint(p.Seq, 10) || got.Data != p.Data || got.Type != p.Type {
			return fmt.Errorf("event %d of client %q = %+v, want %+v\n got %v\nwant %v", i+1, name, got, p, ids(c.events), pubIDs(want))
		}
	}
	return nil
}

// clientHasReceivedEveryEventAtLeastOnce waits for the last event published
// to the client's topics, then checks each connection's ids only grow and
// no event published since it subscribed is missing.
func (w *world) clientHasReceivedEveryEventAtLeastOnce(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	want, err := w.expectedFor(c)
	if err != nil {
		return err
	}
	last := strconv.FormatUint(want[len(want)-1].Seq, 10)
	if err := c.waitFor(waitTimeout, "event "+last, func() bool {
		return len(c.events) > 0 && c.events[len(c.events)-1].ID == last
	}); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	prev := map[int]uint64{}
	for _, e := range c.events {
		v, _ := strconv.ParseUint(e.ID, 10, 64)
		if v <= prev[e.Conn] {
			return fmt.Errorf("connection %d of %q went back from %d to %d", e.Conn, name, prev[e.Conn], v)
		}
		prev[e.Conn] = v
		seen[e.ID] = true
	}
	var missing []uint64
	for _, p := range want {
		if !seen[strconv.FormatUint(p.Seq, 10)] {
			missing = append(missing, p.Seq)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("client %q never received %d of %d events: %v", name, len(missing), len(want), missing)
	}
	return nil
}

func (w *world) clientHasReceivedIDs(name, list string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	return c.hasIDs(splitList(list))
}

func (w *world) eventOfClientHas(i int, name, data, typ string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if data, err = unquote(data); err != nil {
		return err
	}
	if typ, err = unquote(typ); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i > len(c.events) {
		return fmt.Errorf("client %q has %d events", name, len(c.events))
	}
	if e := c.events[i-1]; e.Data != data || e.Type != typ {
		return fmt.Errorf("event %d = data %q type %q, want data %q type %q", i, e.Data, e.Type, data, typ)
	}
	return nil
}

// clientReceivesGap waits for client name's gap event, checks it says last
// and first, and that no event came before it.
func (w *world) clientReceivesGap(name, last, first string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	raw, err := c.waitGap(last, first)
	if err != nil {
		return err
	}
	gapAt := strings.Index(raw, "event: gap")
	if idAt := strings.Index(raw, "\nid: "); idAt >= 0 && idAt < gapAt {
		return fmt.Errorf("an event came before the gap: %.300q", raw)
	}
	return nil
}

// waitGap waits for the client's gap event and checks it says last and
// first, with exactly the JSON {"last_event_id":…,"first_available":…} of
// docs/protocol.md. It returns the raw stream of the current connection.
func (c *sseClient) waitGap(last, first string) (string, error) {
	if err := c.waitFor(waitTimeout, "a gap event", func() bool { return countType(c.control, "gap") > 0 }); err != nil {
		return "", err
	}
	g, _ := c.lastControl("gap")
	if want := fmt.Sprintf(`{"last_event_id":"%s","first_available":"%s"}`, last, first); g.Data != want {
		return "", fmt.Errorf("gap %s, want %s", g.Data, want)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.raw), nil
}

func (w *world) clientGotNoGap(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := countType(c.control, "gap"); n > 0 {
		return fmt.Errorf("client %q got %d gap events: %v", name, n, c.control)
	}
	return nil
}

// clientIsTakenOver waits for a takeover event naming the client's session
// and the end of its connection.
func (w *world) clientIsTakenOver(name string) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if err := c.waitFor(waitTimeout, "a takeover and the end", func() bool {
		return countType(c.control, "takeover") > 0 && c.endErr != nil
	}); err != nil {
		return err
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	t, _ := c.lastControl("takeover")
	var d struct{ Session string }
	if err := json.Unmarshal([]byte(t.Data), &d); err != nil || d.Session != s.Session {
		return fmt.Errorf("takeover data %q, session %q", t.Data, s.Session)
	}
	return nil
}

func pubIDs(ps []published) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strconv.FormatUint(p.Seq, 10)
	}
	return out
}

func (w *world) clientHasReceivedGaplessRun(name string, last, first uint64) error {
	c, err := w.client(name)
	if err != nil {
		return err
	}
	if err := c.waitFor(waitTimeout, fmt.Sprintf("event %d", last), func() bool {
		return len(c.events) > 0 && c.events[len(c.events)-1].ID == strconv.FormatUint(last, 10)
	}); err != nil {
		return err
	}
	got := c.eventIDs()
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			return fmt.Errorf("client %q ids %v are not gapless and increasing", name, got)
		}
	}
	if got[0] > first {
		return fmt.Errorf("client %q ids %v start after %d", name, got, first)
	}
	return nil
}
