package features

// Steps of browser.feature: pages in headless Chromium against the real
// edge, checked by what they show.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/cucumber/godog"
	"github.com/golang-jwt/jwt/v5"

	"github.com/jetsse/jetsse/services/edge/web"
)

// registerBrowser registers the steps of browser.feature (headless Chromium).
func (w *world) registerBrowser(sc *godog.ScenarioContext) {
	b := newBrowserWorld(w)
	sc.After(func(ctx context.Context, _ *godog.Scenario, err error) (context.Context, error) {
		b.close()
		return ctx, nil
	})

	sc.Step(`^a jetsse process on fixed ports with "([^"]*)"$`, b.processOnFixedPorts)
	sc.Step(`^the jetsse process is stopped with SIGTERM$`, w.processIsStopped)
	sc.Step(`^the jetsse process is started again on the same data dir and ports$`, b.restartProcess)
	sc.Step(`^web apps "(\w+)" and "(\w+)" on other origins$`, b.webApps)
	sc.Step(`^a jetsse server that allows the origin of web app "(\w+)"$`, b.serverAllowing)
	sc.Step(`^a jetsse server with JWT auth that allows the origin of web app "(\w+)"$`, b.jwtServerAllowing)
	sc.Step(`^web app "(\w+)" hands out tokens that may subscribe to "([^"]*)" for (\d+) seconds?$`, b.appHandsOutTokens)
	sc.Step(`^web app "(\w+)" handed out at least (\d+) tokens$`, b.appHandedOut)
	sc.Step(`^tab "(\w+)" opens web app "(\w+)" with the token hook subscribed to "([^"]*)"$`, func(name, app, topics string) error {
		return b.openAppWith(name, app, topics, url.Values{"token": {"1"}})
	})

	sc.Step(`^tab "(\w+)" opens the (demo page|plain EventSource page) subscribed to "([^"]*)"$`, b.openPage)
	sc.Step(`^tab "(\w+)" opens web app "(\w+)" subscribed to "([^"]*)"$`, b.openApp)
	sc.Step(`^tab "(\w+)" is reloaded$`, b.reload)
	sc.Step(`^tab "(\w+)" is closed$`, b.closeTab)
	sc.Step(`^tab "(\w+)" is duplicated as tab "(\w+)"$`, b.duplicate)
	sc.Step(`^tab "(\w+)" goes offline$`, b.goesOffline)
	sc.Step(`^tab "(\w+)" comes back online$`, b.comesBackOnline)
	sc.Step(`^tab "(\w+)" publishes "([^"]*)" to "([^"]*)" with type "([^"]*)" and token "([^"]*)"$`, b.publishFromPage)

	sc.Step(`^events are published to "([^"]*)" in the background$`, b.startBackground)
	sc.Step(`^the background publishing stops$`, b.stopBackground)
	sc.Step(`^tab "(\w+)" shows at least (\d+) events$`, b.atLeast)
	sc.Step(`^tab "(\w+)" shows at least (\d+) events published after the (restart|reload)$`, b.atLeastAfter)

	sc.Step(`^tab "(\w+)" shows the state "(\w+)"$`, b.showsState)
	sc.Step(`^tab "(\w+)" shows the events with ids "([^"]*)"$`, b.showsIDs)
	sc.Step(`^tab "(\w+)" shows every event published since it subscribed, exactly once and in order$`, b.showsEveryEvent)
	sc.Step(`^tab "(\w+)" shows an? "(\w+)" notice containing "([^"]*)"$`, b.showsNotice)
	sc.Step(`^tab "(\w+)" shows (no|\d+) "(\w+)" notices?$`, b.countNotices)
	sc.Step(`^tab "(\w+)" shows a "(\w+)" notice with events before and after it$`, b.noticeBetween)
	sc.Step(`^tabs "(\w+)" and "(\w+)" show different sessions$`, b.differentSessions)
	sc.Step(`^tab "(\w+)" shows the publish accepted as event (\d+)$`, b.publishAccepted)
	sc.Step(`^tab "(\w+)" shows the publish refused with status (\d+)$`, b.publishRefused)
	sc.Step(`^tab "(\w+)" shows event (\d+) with type "([^"]*)" and data "([^"]*)"$`, b.showsEvent)
	sc.Step(`^every reconnect of tab "(\w+)" to "([^"]*)" carried Last-Event-ID "([^"]*)" and the session cookie$`, b.reconnectHeaders)
	sc.Step(`^a screenshot of tab "(\w+)" is saved as "([^"]*)"$`, b.screenshot)
}

func (b *browserWorld) processOnFixedPorts(flags string) error {
	httpPort, err := freePort()
	if err != nil {
		return err
	}
	natsPort, err := freePort()
	if err != nil {
		return err
	}
	b.procArgs = append(strings.Fields(flags), "--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort), "--nats-addr", fmt.Sprintf("127.0.0.1:%d", natsPort))
	b.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	_, err = b.w.startProcess("edge", filepath.Join(b.w.dir, "edge"), b.procArgs)
	return err
}

// processIsStopped stops the jetsse process gracefully.
func (w *world) processIsStopped() error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	if s.proc == nil {
		return errors.New("needs a jetsse process")
	}
	return s.stop()
}

// restartProcess starts the jetsse process again on its data dir and ports.
func (b *browserWorld) restartProcess() error {
	s, err := b.w.defaultServer()
	if err != nil {
		return err
	}
	if b.procArgs == nil {
		return errors.New("the process was not started on fixed ports")
	}
	if b.bg != nil {
		b.mark["restart"] = b.bg.count()
	}
	_, err = b.w.startProcess(s.name, s.dataDir, b.procArgs)
	return err
}

// openPage opens the demo page or the plain EventSource page and waits
// until the page has its session, so later publishes count as after it
// subscribed.
func (b *browserWorld) openPage(name, page, topics string) error {
	base, err := b.base()
	if err != nil {
		return err
	}
	t := b.tabs[name]
	if t == nil {
		if t, err = b.newTab(name); err != nil {
			return err
		}
	}
	q := url.Values{}
	for _, tp := range splitList(topics) {
		q.Add("topic", tp)
	}
	path := "/?"
	if page == "plain EventSource page" {
		path = "/assets/plain.html?"
	}
	before, _ := t.view()
	sessions := len(before.notices("session"))
	if _, ok := b.since[name]; !ok {
		b.since[name] = len(b.w.published)
	}
	b.topics[name] = splitList(topics)
	if err := t.do(chromedp.Navigate(base + path + q.Encode())); err != nil {
		return err
	}
	_, err = t.waitView("the page's session", func(v pageView) bool {
		return v.State == "open" && len(v.notices("session")) > 0 && (sessions == 0 || v.URL != before.URL || len(v.notices("session")) > sessions)
	})
	return err
}

func (b *browserWorld) webApps(first, second string) error {
	for _, name := range []string{first, second} {
		mux := http.NewServeMux()
		mux.Handle("GET /jetsse.js", web.Handler())
		mux.HandleFunc("GET /app.html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(appPage))
		})
		mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
			t, err := b.mintAppToken(name)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte(t))
		})
		b.apps[name] = httptest.NewServer(mux)
	}
	return nil
}

func (b *browserWorld) serverAllowing(app string) error {
	s := b.apps[app]
	if s == nil {
		return fmt.Errorf("no web app %q", app)
	}
	_, err := b.w.startServer("edge", filepath.Join(b.w.dir, "edge"), []string{"--cors-origins", s.URL})
	return err
}

func (b *browserWorld) openApp(name, app, topics string) error {
	return b.openAppWith(name, app, topics, nil)
}

func (b *browserWorld) jwtServerAllowing(app string) error {
	s := b.apps[app]
	if s == nil {
		return fmt.Errorf("no web app %q", app)
	}
	return b.w.jetsseServerWithJWT("--cors-origins " + s.URL)
}

func (b *browserWorld) appHandsOutTokens(app, topics string, secs int) error {
	b.tokensMu.Lock()
	defer b.tokensMu.Unlock()
	b.appTokens[app] = appTokenGrant{subscribe: splitList(topics), validFor: time.Duration(secs) * time.Second}
	return nil
}

// mintAppToken is web app app's /token endpoint: a JWT for "page-user"
// with the grants and lifetime the scenario set.
func (b *browserWorld) mintAppToken(app string) (string, error) {
	b.tokensMu.Lock()
	g, ok := b.appTokens[app]
	b.tokensMinted[app]++
	b.tokensMu.Unlock()
	if !ok {
		return "", fmt.Errorf("web app %q hands out no tokens", app)
	}
	return b.w.sign(jwt.MapClaims{"sub": "page-user", "exp": time.Now().Add(g.validFor).Unix(),
		"jetsse": map[string]any{"subscribe": g.subscribe}})
}

func (b *browserWorld) appHandedOut(app string, n int) error {
	b.tokensMu.Lock()
	defer b.tokensMu.Unlock()
	if got := b.tokensMinted[app]; got < n {
		return fmt.Errorf("web app %q handed out %d tokens, want at least %d", app, got, n)
	}
	return nil
}

func (b *browserWorld) openAppWith(name, app, topics string, extra url.Values) error {
	s := b.apps[app]
	if s == nil {
		return fmt.Errorf("no web app %q", app)
	}
	base, err := b.base()
	if err != nil {
		return err
	}
	t, err := b.newTab(name)
	if err != nil {
		return err
	}
	q := url.Values{"edge": {base}}
	for k, v := range extra {
		q[k] = v
	}
	for _, tp := range splitList(topics) {
		q.Add("topic", tp)
	}
	b.since[name] = len(b.w.published)
	b.topics[name] = splitList(topics)
	if err := t.do(chromedp.Navigate(s.URL + "/app.html?" + q.Encode())); err != nil {
		return err
	}
	_, err = t.waitView("the app to try to connect", func(v pageView) bool { return v.State != "idle" && v.State != "connecting" })
	return err
}

func (b *browserWorld) reload(name string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	if b.bg != nil {
		b.mark["reload"] = b.bg.count()
	}
	return t.do(chromedp.Reload())
}

func (b *browserWorld) closeTab(name string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	t.close()
	delete(b.tabs, name)
	return nil
}

// duplicate opens a tab with a copy of the tab's sessionStorage at the same
// URL, as the browser's "Duplicate tab" does.
func (b *browserWorld) duplicate(from, to string) error {
	src, err := b.tab(from)
	if err != nil {
		return err
	}
	storage, err := evalIn[map[string]string](src, `Object.fromEntries(Object.entries(sessionStorage))`)
	if err != nil {
		return err
	}
	v, err := src.view()
	if err != nil {
		return err
	}
	base, err := b.base()
	if err != nil {
		return err
	}
	t, err := b.newTab(to)
	if err != nil {
		return err
	}
	if err := t.do(chromedp.Navigate(base + "/")); err != nil { // same origin, subscribed to nothing
		return err
	}
	for k, val := range storage {
		if _, err := evalIn[bool](t, fmt.Sprintf(`(sessionStorage.setItem(%s, %s), true)`, strconv.Quote(k), strconv.Quote(val))); err != nil {
			return err
		}
	}
	b.since[to], b.topics[to] = b.since[from], b.topics[from]
	if err := t.do(chromedp.Navigate(v.URL)); err != nil {
		return err
	}
	_, err = t.waitView("the duplicated tab's session", func(v pageView) bool { return v.State == "open" && len(v.notices("session")) > 0 })
	return err
}

func (b *browserWorld) goesOffline(name string) error { return b.setOffline(name, true) }

func (b *browserWorld) comesBackOnline(name string) error { return b.setOffline(name, false) }

// setOffline emulates the loss (and the return) of the network for a tab:
// its requests fail and navigator.onLine follows.
func (b *browserWorld) setOffline(name string, offline bool) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	return t.do(chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		// Network.emulateNetworkConditions is deprecated, but its successor
		// (emulateNetworkConditionsByRule) refuses a global offline rule in
		// Chromium 148; this one fails the tab's requests and sets
		// navigator.onLine.
		return tgt.Call(ctx, "Network.emulateNetworkConditions", map[string]any{
			"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
		}, nil)
	}))
}

// publishFromPage fills in the demo page's publish form and submits it.
func (b *browserWorld) publishFromPage(name, data, tp, typ, token string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	fill := fmt.Sprintf(`(() => {
  const set = (id, v) => { document.getElementById(id).value = v; };
  set("token", %q); set("pub-topic", %q); set("pub-type", %q); set("pub-data", %q);
  delete document.getElementById("pub-result").dataset.status; // so the wait below sees the new answer
  return true;
})()`, token, tp, typ, data)
	if _, err := evalIn[bool](t, fill); err != nil {
		return err
	}
	if err := t.do(chromedp.Click(chromedp.CSS(`#pub-form button[type="submit"]`))); err != nil {
		return err
	}
	b.pagePub = &published{Topic: tp, Type: typ, Data: data}
	_, err = t.waitView("the publish answer", func(v pageView) bool { return v.Publish.Status != "" })
	return err
}

func (b *browserWorld) publishAccepted(name string, id uint64) error {
	v, err := b.view(name)
	if err != nil {
		return err
	}
	if v.Publish.Status != "200" || v.Publish.ID != strconv.FormatUint(id, 10) {
		return fmt.Errorf("the page shows the publish answered %s %q (%s), want 200 with id %d", v.Publish.Status, v.Publish.ID, v.Publish.Text, id)
	}
	if b.pagePub == nil {
		return errors.New("the page published nothing")
	}
	p := *b.pagePub
	p.Seq = id
	b.w.published = append(b.w.published, p)
	return nil
}

func (b *browserWorld) publishRefused(name string, status int) error {
	v, err := b.view(name)
	if err != nil {
		return err
	}
	if v.Publish.Status != strconv.Itoa(status) || !strings.Contains(v.Publish.Text, "Refused") {
		return fmt.Errorf("the page shows the publish answered %s (%s), want %d", v.Publish.Status, v.Publish.Text, status)
	}
	return nil
}

func (b *browserWorld) startBackground(tp string) error {
	natsURL := b.natsURL
	if natsURL == "" {
		s, err := b.w.defaultServer()
		if err != nil {
			return err
		}
		natsURL = s.ready.NATSURL
	}
	bg, err := startBackground(natsURL, "events."+tp, tp, 15*time.Millisecond)
	if err != nil {
		return err
	}
	b.bg = bg
	return nil
}

// stopBackground stops the background publisher and records what it
// published, so the Then steps expect it.
func (b *browserWorld) stopBackground() error {
	if b.bg == nil {
		return errors.New("nothing is published in the background")
	}
	acked, err := b.bg.halt()
	b.bg = nil
	b.w.published = append(b.w.published, acked...)
	return err
}

func (b *browserWorld) atLeast(name string, n int) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	_, err = t.waitView(fmt.Sprintf("%d events", n), func(v pageView) bool { return len(v.events()) >= n })
	return err
}

func (b *browserWorld) atLeastAfter(name string, n int, what string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	if b.bg == nil {
		return errors.New("nothing is published in the background")
	}
	from, ok := b.mark[what]
	if !ok {
		return fmt.Errorf("no %s happened", what)
	}
	if err := b.bg.wait(from + n); err != nil {
		return err
	}
	want := b.bg.seq(from + n - 1)
	_, err = t.waitView(fmt.Sprintf("event %d, the %dth published after the %s", want, n, what), func(v pageView) bool {
		ids := v.ids()
		return len(ids) > 0 && ids[len(ids)-1] >= want
	})
	return err
}

func (b *browserWorld) showsState(name, state string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	_, err = t.waitView(fmt.Sprintf("state %q", state), func(v pageView) bool { return v.State == state })
	return err
}

func (b *browserWorld) showsIDs(name, list string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	var want []uint64
	for _, s := range splitList(list) {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return err
		}
		want = append(want, id)
	}
	v, err := t.waitView(fmt.Sprintf("ids %v", want), func(v pageView) bool { return len(v.ids()) >= len(want) })
	if err != nil {
		return err
	}
	if !slices.Equal(v.ids(), want) {
		return fmt.Errorf("tab %q shows ids %v, want %v (%s)", name, v.ids(), want, v)
	}
	return nil
}

func (b *browserWorld) showsEveryEvent(name string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	if b.bg != nil {
		return errors.New("stop the background publishing first")
	}
	want, err := b.expected(name)
	if err != nil {
		return err
	}
	if len(want) == 0 {
		return errors.New("nothing was published to the tab's topics")
	}
	last := want[len(want)-1].Seq
	v, err := t.waitView(fmt.Sprintf("event %d", last), func(v pageView) bool {
		ids := v.ids()
		return len(ids) > 0 && ids[len(ids)-1] >= last
	})
	if err != nil {
		return err
	}
	got := v.events()
	if len(got) != len(want) {
		return fmt.Errorf("tab %q shows %d events, want %d exactly once: shows %v, want %v", name, len(got), len(want), v.ids(), seqs(want))
	}
	for i, p := range want {
		g := got[i]
		if g.ID != strconv.FormatUint(p.Seq, 10) || g.Data != p.Data || (p.Type != "" && g.Type != p.Type) {
			return fmt.Errorf("tab %q: event %d is %+v, want id %d, type %q, data %q (shows %v)", name, i+1, g, p.Seq, p.Type, p.Data, v.ids())
		}
	}
	return nil
}

func (b *browserWorld) showsNotice(name, kind, text string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	_, err = t.waitView(fmt.Sprintf("a %s notice containing %q", kind, text), func(v pageView) bool {
		return slices.ContainsFunc(v.notices(kind), func(s string) bool { return strings.Contains(s, text) })
	})
	return err
}

func (b *browserWorld) countNotices(name, n, kind string) error {
	want := 0
	if n != "no" {
		want, _ = strconv.Atoi(n)
	}
	v, err := b.view(name)
	if err != nil {
		return err
	}
	if got := len(v.notices(kind)); got != want {
		return fmt.Errorf("tab %q shows %d %s notices, want %d (%s)", name, got, kind, want, v)
	}
	return nil
}

func (b *browserWorld) noticeBetween(name, kind string) error {
	v, err := b.view(name)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(v.Rows, func(r pageRow) bool { return r.Kind == kind })
	if i < 0 {
		return fmt.Errorf("tab %q shows no %s notice (%s)", name, kind, v)
	}
	isEvent := func(r pageRow) bool { return r.Kind == "event" }
	if !slices.ContainsFunc(v.Rows[:i], isEvent) || !slices.ContainsFunc(v.Rows[i:], isEvent) {
		return fmt.Errorf("tab %q: the %s notice is not between events (%s)", name, kind, v)
	}
	return nil
}

func (b *browserWorld) differentSessions(x, y string) error {
	var sessions []string
	for _, name := range []string{x, y} {
		v, err := b.view(name)
		if err != nil {
			return err
		}
		if v.Session == "" || v.Session == "none" {
			return fmt.Errorf("tab %q shows no session", name)
		}
		sessions = append(sessions, v.Session)
	}
	if sessions[0] == sessions[1] {
		return fmt.Errorf("tabs %q and %q share session %s", x, y, sessions[0])
	}
	return nil
}

func (b *browserWorld) showsEvent(name string, id uint64, typ, data string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	sid := strconv.FormatUint(id, 10)
	v, err := t.waitView("event "+sid, func(v pageView) bool {
		return slices.ContainsFunc(v.events(), func(r pageRow) bool { return r.ID == sid })
	})
	if err != nil {
		return err
	}
	for _, r := range v.events() {
		if r.ID == sid && (r.Type != typ || r.Data != data) {
			return fmt.Errorf("tab %q shows event %s with type %q and data %q, want %q and %q", name, sid, r.Type, r.Data, typ, data)
		}
	}
	return nil
}

// reconnectHeaders checks the requests the browser itself sent after the
// first one (EventSource reconnects).
func (b *browserWorld) reconnectHeaders(name, path, id string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	reqs := t.requests(path)
	if len(reqs) < 2 {
		return fmt.Errorf("tab %q sent %d requests to %s, want a reconnect", name, len(reqs), path)
	}
	first := reqs[0].Headers["cookie"]
	for i, r := range reqs[1:] {
		if r.Headers["last-event-id"] != id {
			return fmt.Errorf("reconnect %d of tab %q carried Last-Event-ID %q, want %q (%v)", i+1, name, r.Headers["last-event-id"], id, r.Headers)
		}
		if !strings.Contains(r.Headers["cookie"], "jetsse_session=") {
			return fmt.Errorf("reconnect %d of tab %q carried no session cookie (%v)", i+1, name, r.Headers)
		}
	}
	if strings.Contains(first, "jetsse_session=") {
		return fmt.Errorf("the first request of tab %q already had a session cookie: %q", name, first)
	}
	return nil
}

// screenshot saves a PNG of the whole page under features/artifacts/.
func (b *browserWorld) screenshot(ctx context.Context, name, file string) error {
	t, err := b.tab(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll("artifacts", 0o755); err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(t.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	path, err := filepath.Abs(filepath.Join("artifacts", file))
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return err
	}
	godog.Logf(ctx, "screenshot of tab %q: %s", name, path)
	return nil
}
