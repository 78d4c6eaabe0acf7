package features

// Steps of admin.feature: the admin API on the admin listener, with the
// admin token each server reported when it started.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
)

// sessionInfo is a session as the admin API shows it (SessionInfo in
// proto/jetsse/v1; 64-bit integers are JSON strings).
type sessionInfo struct {
	Session       string   `json:"session"`
	Identity      string   `json:"identity"`
	Topics        []string `json:"topics"`
	Position      string   `json:"position"`
	LastEventID   string   `json:"last_event_id"`
	Lag           string   `json:"lag"`
	AttachedNode  string   `json:"attached_node"`
	DetachedSince string   `json:"detached_since"`
	Reconnects    string   `json:"reconnects"`
	Created       string   `json:"created"`
}

type sessionPage struct {
	Sessions      []sessionInfo `json:"sessions"`
	NextPageToken string        `json:"next_page_token"`
}

// adminWorld is the scenario's state of these steps.
type adminWorld struct {
	w *world
	// pages are the pages of the last paging, in order.
	pages []sessionPage
}

func (w *world) registerAdmin(sc *godog.ScenarioContext) {
	a := &adminWorld{w: w}
	sc.Step(`^the operator lists the sessions$`, func() error { return a.list(url.Values{}) })
	sc.Step(`^the operator lists the sessions on topic "([^"]*)"$`, func(t string) error { return a.list(url.Values{"topic": {t}}) })
	sc.Step(`^the operator lists the sessions of identity "([^"]*)"$`, func(id string) error {
		return a.list(url.Values{"identity": {id}})
	})
	sc.Step(`^the list holds the sessions of clients "([^"]*)" in ID order, and no next page$`, a.listHolds)
	sc.Step(`^the operator inspects the session of client "(\w+)"$`, a.inspect)
	sc.Step(`^it shows topics "([^"]*)", position "(\d+)", last event "(\d+)", lag (\d+), (attached to this node|detached), (\d+) reconnects$`, a.shows)
	sc.Step(`^the operator ends the session of client "(\w+)"$`, func(name string) error { return a.end("", name) })
	sc.Step(`^the operator of "([^"]*)" ends the session of client "(\w+)"$`, a.end)
	sc.Step(`^the operator inspecting the session of client "(\w+)" gets (\d+)$`, func(name string, status int) error {
		return a.expectStatus(a.inspect(name), status)
	})
	sc.Step(`^the operator ending the session of client "(\w+)" gets (\d+)$`, func(name string, status int) error {
		return a.expectStatus(a.end("", name), status)
	})
	sc.Step(`^client "(\w+)" receives an end event for its session and its connection ends$`, a.clientIsEnded)
	sc.Step(`^a reconnect of client "(\w+)" with its session cookie gets (\d+)$`, a.reconnectGets)
	sc.Step(`^no consumer is left for the session of client "(\w+)"$`, w.consumerGone)
	sc.Step(`^clients "([^"]*)" subscribe to "([^"]*)"$`, a.clientsSubscribe)
	sc.Step(`^the operator pages through the sessions (\d+) at a time$`, a.pageThrough)
	sc.Step(`^the pages hold (\d+), (\d+) and (\d+) sessions, every session once, in ID order$`, a.pagesHold)
	sc.Step(`^the operator asks for "([^"]*)"$`, func(path string) error { return a.get("", path) })
}

// request sends an admin API request with server's admin token (the
// default server when "") and keeps the response in the world.
func (a *adminWorld) request(server, method, path string) error {
	s, err := a.w.defaultServer()
	if server != "" {
		s, err = a.w.serverNamed(server)
	}
	if err != nil {
		return err
	}
	if s.ready.AdminAddr == "" || s.ready.AdminToken == "" {
		return errors.New("the server reported no admin listener or admin token")
	}
	req, err := http.NewRequest(method, s.admin()+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.ready.AdminToken)
	return a.w.do(req)
}

func (a *adminWorld) get(server, path string) error { return a.request(server, http.MethodGet, path) }

// expectStatus checks the last response's status after step err.
func (a *adminWorld) expectStatus(err error, want int) error {
	if err != nil {
		return err
	}
	if a.w.status != want {
		return fmt.Errorf("status %d, want %d: %s", a.w.status, want, a.w.body)
	}
	return nil
}

func (a *adminWorld) page() (sessionPage, error) {
	var p sessionPage
	if a.w.status != http.StatusOK {
		return p, fmt.Errorf("status %d: %s", a.w.status, a.w.body)
	}
	if err := json.Unmarshal([]byte(a.w.body), &p); err != nil {
		return p, fmt.Errorf("not a page of sessions: %v: %s", err, a.w.body)
	}
	return p, nil
}

func (a *adminWorld) list(q url.Values) error {
	return a.get("", "/v1/sessions?"+q.Encode())
}

// sessionsOf returns the session IDs of clients (comma-separated), sorted.
func (a *adminWorld) sessionsOf(clients string) ([]string, error) {
	var ids []string
	for _, name := range splitList(clients) {
		id, err := a.w.sessionIDOf(name)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

func (a *adminWorld) listHolds(clients string) error {
	p, err := a.page()
	if err != nil {
		return err
	}
	want, err := a.sessionsOf(clients)
	if err != nil {
		return err
	}
	var got []string
	for _, s := range p.Sessions {
		got = append(got, s.Session)
	}
	if !slices.Equal(got, want) || p.NextPageToken != "" {
		return fmt.Errorf("listed %v (next page %q), want %v", got, p.NextPageToken, want)
	}
	return nil
}

func (a *adminWorld) inspect(name string) error {
	id, err := a.w.sessionIDOf(name)
	if err != nil {
		return err
	}
	return a.get("", "/v1/sessions/"+id)
}

func (a *adminWorld) shows(topics, position, last string, lag int, where string, reconnects int) error {
	if a.w.status != http.StatusOK {
		return fmt.Errorf("status %d: %s", a.w.status, a.w.body)
	}
	var s sessionInfo
	if err := json.Unmarshal([]byte(a.w.body), &s); err != nil {
		return fmt.Errorf("not a session: %v: %s", err, a.w.body)
	}
	srv, err := a.w.defaultServer()
	if err != nil {
		return err
	}
	var problems []string
	check := func(what, got, want string) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s %q, want %q", what, got, want))
		}
	}
	check("topics", strings.Join(s.Topics, ","), topics)
	check("position", s.Position, position)
	check("last event", s.LastEventID, last)
	check("lag", s.Lag, strconv.Itoa(lag))
	check("reconnects", s.Reconnects, strconv.Itoa(reconnects))
	if where == "detached" {
		check("attached node", s.AttachedNode, "")
		if s.DetachedSince == "" {
			problems = append(problems, "no detached_since")
		}
	} else {
		check("attached node", s.AttachedNode, srv.ready.NodeID)
		check("detached since", s.DetachedSince, "")
	}
	if s.Created == "" {
		problems = append(problems, "no created time")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s in %s", strings.Join(problems, "; "), a.w.body)
	}
	return nil
}

// end ends client name's session through server's admin API.
func (a *adminWorld) end(server, name string) error {
	id, err := a.w.sessionIDOf(name)
	if err != nil {
		return err
	}
	return a.request(server, http.MethodDelete, "/v1/sessions/"+id)
}

// clientIsEnded waits for client name's connection to get an end event
// naming its session, and to end.
func (a *adminWorld) clientIsEnded(name string) error {
	c, err := a.w.client(name)
	if err != nil {
		return err
	}
	if err := c.waitFor(waitTimeout, "an end event and the end", func() bool {
		return countType(c.control, "end") > 0 && c.endErr != nil
	}); err != nil {
		return err
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	e, _ := c.lastControl("end")
	var d struct{ Session, Reason string }
	if err := json.Unmarshal([]byte(e.Data), &d); err != nil || d.Session != s.Session || d.Reason == "" {
		return fmt.Errorf("end data %q, session %q", e.Data, s.Session)
	}
	return nil
}

// reconnectGets reconnects client name with its cookie and expects status.
func (a *adminWorld) reconnectGets(name string, status int) error {
	c, err := a.w.client(name)
	if err != nil {
		return err
	}
	c.close()
	if err := c.connect(connectOptions{cookie: c.cookie}); err != nil {
		return err
	}
	c.mu.Lock()
	got, body := c.status, c.errBody
	c.mu.Unlock()
	if got != status {
		return fmt.Errorf("reconnect answered %d, want %d: %s", got, status, body)
	}
	return nil
}

func (a *adminWorld) clientsSubscribe(names, topics string) error {
	for _, name := range splitList(names) {
		if err := a.w.clientSubscribes(name, topics); err != nil {
			return fmt.Errorf("client %s: %w", name, err)
		}
	}
	return nil
}

func (a *adminWorld) pageThrough(size int) error {
	a.pages = nil
	token := ""
	for range 100 {
		q := url.Values{"page_size": {strconv.Itoa(size)}}
		if token != "" {
			q.Set("page_token", token)
		}
		if err := a.list(q); err != nil {
			return err
		}
		p, err := a.page()
		if err != nil {
			return err
		}
		a.pages = append(a.pages, p)
		if token = p.NextPageToken; token == "" {
			return nil
		}
	}
	return errors.New("more than 100 pages")
}

func (a *adminWorld) pagesHold(n1, n2, n3 int) error {
	var sizes, all []string
	for _, p := range a.pages {
		sizes = append(sizes, strconv.Itoa(len(p.Sessions)))
		for _, s := range p.Sessions {
			all = append(all, s.Session)
		}
	}
	if want := fmt.Sprintf("%d,%d,%d", n1, n2, n3); strings.Join(sizes, ",") != want {
		return fmt.Errorf("pages of %s sessions, want %s", strings.Join(sizes, ","), want)
	}
	var want []string
	for name := range a.w.clients {
		id, err := a.w.sessionIDOf(name)
		if err != nil {
			return err
		}
		want = append(want, id)
	}
	slices.Sort(want)
	if !slices.Equal(all, want) {
		return fmt.Errorf("paged %v, want %v", all, want)
	}
	return nil
}
