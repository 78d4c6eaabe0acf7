package features

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/jetsse/jetsse/pkg/topic"
)

// TestMain stops the suite's Chromium, if a test started one.
func TestMain(m *testing.M) {
	code := m.Run()
	stopChromium()
	os.Exit(code)
}

// chromium is the one headless Chromium the tests of this package share;
// each scenario (and each differential run) gets its own browser context,
// so cookies and storage never leak between them.
var (
	chromiumMu     sync.Mutex
	chromiumCtx    context.Context
	chromiumCancel func()
	chromiumDir    string
)

func startChromium() (context.Context, error) {
	chromiumMu.Lock()
	defer chromiumMu.Unlock()
	if chromiumCtx != nil {
		return chromiumCtx, nil
	}
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		return nil, errors.New("Chromium is not installed: the browser tests need it (Debian: apt-get install chromium)")
	}
	dir, err := os.MkdirTemp("", "jetsse-chromium")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1200, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		bcancel()
		acancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	chromiumCtx, chromiumDir = bctx, dir
	chromiumCancel = func() { bcancel(); acancel() }
	return bctx, nil
}

func stopChromium() {
	chromiumMu.Lock()
	defer chromiumMu.Unlock()
	if chromiumCancel != nil {
		chromiumCancel()
		os.RemoveAll(chromiumDir)
		chromiumCtx, chromiumCancel = nil, nil
	}
}

// browserProfile is one isolated browser context (one cookie jar, one
// storage): the tabs of one user's browser.
type browserProfile struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newBrowserProfile() (*browserProfile, error) {
	bctx, err := startChromium()
	if err != nil {
		return nil, err
	}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, err
	}
	return &browserProfile{ctx: ctx, cancel: cancel}, nil
}

func (p *browserProfile) close() { p.cancel() }

// tab is one browser tab of a profile. It records the requests the tab
// sends, with the headers that went on the wire.
type tab struct {
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	urls    map[network.RequestID]string
	headers map[network.RequestID]map[string]string
	order   []network.RequestID
}

// sentRequest is a request as it went on the wire.
type sentRequest struct {
	Headers map[string]string // lower-case names
}

func (p *browserProfile) newTab(name string) (*tab, error) {
	ctx, cancel := chromedp.NewContext(p.ctx)
	t := &tab{name: name, ctx: ctx, cancel: cancel, urls: map[network.RequestID]string{}, headers: map[network.RequestID]map[string]string{}}
	if err := chromedp.Listen(ctx, t.onNetwork); err != nil {
		cancel()
		return nil, err
	}
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, network.Enable, network.EnableParams{})
		return err
	})); err != nil {
		cancel()
		return nil, err
	}
	return t, nil
}

// onNetwork joins requestWillBeSent (the URL) and its ExtraInfo (the headers
// sent), which Chromium may report in either order.
func (t *tab) onNetwork(ev any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		t.urls[ev.RequestID] = ev.Request.URL
	case *network.EventRequestWillBeSentExtraInfo:
		h := map[string]string{}
		for k, v := range ev.Headers {
			h[strings.ToLower(k)] = fmt.Sprint(v)
		}
		t.headers[ev.RequestID] = h
		t.order = append(t.order, ev.RequestID)
	}
}

// requests returns the requests sent so far whose URL contains part, in the
// order they went out.
func (t *tab) requests(part string) []sentRequest {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []sentRequest
	for _, id := range t.order {
		if u := t.urls[id]; strings.Contains(u, part) {
			out = append(out, sentRequest{Headers: t.headers[id]})
		}
	}
	return out
}

func (t *tab) close() { t.cancel() }

func (t *tab) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(t.ctx, 2*waitTimeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// evalIn evaluates a JavaScript expression in the tab (awaiting a promise)
// and decodes its value.
func evalIn[T any](t *tab, js string) (T, error) {
	ctx, cancel := context.WithTimeout(t.ctx, waitTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// pageView is what a page shows: the demo page, the plain EventSource page
// and the test pages share this markup (#state[data-state], #log > li.event
// with data-id, li.notice.<kind>).
type pageView struct {
	URL     string    `json:"url"`
	State   string    `json:"state"`
	Session string    `json:"session"`
	Rows    []pageRow `json:"rows"` // oldest first
	Publish struct {
		Status string `json:"status"`
		ID     string `json:"id"`
		Text   string `json:"text"`
	} `json:"publish"`
}

type pageRow struct {
	Kind string `json:"kind"` // "event", or the notice: session, gap, takeover, reload
	ID   string `json:"id"`
	Type string `json:"type"`
	Data string `json:"data"`
	Text string `json:"text"`
}

const viewJS = `(() => {
  const rows = [...document.querySelectorAll("#log > li")].reverse().map((li) => li.classList.contains("event")
    ? { kind: "event", id: li.dataset.id ?? "", type: li.dataset.type ?? "", data: li.querySelector(".data")?.textContent ?? "" }
    : { kind: [...li.classList].find((c) => c !== "notice") ?? "", text: (li.querySelector(".text") ?? li).textContent });
  const pr = document.getElementById("pub-result");
  return {
    url: location.href,
    state: document.getElementById("state")?.dataset.state ?? "",
    session: document.getElementById("session")?.textContent ?? "",
    rows,
    publish: { status: pr?.dataset.status ?? "", id: pr?.dataset.id ?? "", text: pr?.textContent ?? "" },
  };
})()`

func (t *tab) view() (pageView, error) { return evalIn[pageView](t, viewJS) }

// waitView polls what the page shows until cond holds or waitTimeout ends.
func (t *tab) waitView(what string, cond func(pageView) bool) (pageView, error) {
	var v pageView
	err := eventually(func() error {
		var err error
		if v, err = t.view(); err == nil && !cond(v) {
			err = errors.New("not yet")
		}
		return err
	})
	if err != nil {
		return v, fmt.Errorf("tab %q: timed out after %v waiting for %s (last error %v); the page shows %s", t.name, waitTimeout, what, err, v)
	}
	return v, nil
}

func (v pageView) events() []pageRow {
	var out []pageRow
	for _, r := range v.Rows {
		if r.Kind == "event" {
			out = append(out, r)
		}
	}
	return out
}

func (v pageView) ids() []uint64 {
	var out []uint64
	for _, r := range v.events() {
		id, _ := strconv.ParseUint(r.ID, 10, 64)
		out = append(out, id)
	}
	return out
}

func (v pageView) notices(kind string) []string {
	var out []string
	for _, r := range v.Rows {
		if r.Kind == kind {
			out = append(out, r.Text)
		}
	}
	return out
}

func (v pageView) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, state %q, ids %v", v.URL, v.State, v.ids())
	for _, r := range v.Rows {
		if r.Kind != "event" {
			fmt.Fprintf(&b, "; %s: %q", r.Kind, r.Text)
		}
	}
	return b.String()
}

// The browser part of a scenario's world, used by steps_browser_test.go.

// browserWorld is the browser part of one scenario's world: one browser
// profile (one cookie jar, as one user's browser) with named tabs.
type browserWorld struct {
	w        *world
	profile  *browserProfile
	tabs     map[string]*tab
	since    map[string]int      // tab → index into w.published when it subscribed
	topics   map[string][]string // tab → its topics
	procArgs []string            // a process on fixed ports: its flags, ports included
	natsURL  string              // the NATS URL of a process on fixed ports
	bg       *background
	mark     map[string]int // "restart"/"reload" → background events acknowledged by then
	apps     map[string]*httptest.Server
	pagePub  *published // what the page last tried to publish
	// appTokens says what the web apps' /token endpoint hands out (by
	// app): grants and lifetime; tokensMinted counts what it did.
	appTokens    map[string]appTokenGrant
	tokensMinted map[string]int
	tokensMu     sync.Mutex
}

// appTokenGrant is what a web app's /token endpoint hands out.
type appTokenGrant struct {
	subscribe []string
	validFor  time.Duration
}

func newBrowserWorld(w *world) *browserWorld {
	return &browserWorld{w: w, tabs: map[string]*tab{}, since: map[string]int{}, topics: map[string][]string{},
		mark: map[string]int{}, apps: map[string]*httptest.Server{},
		appTokens: map[string]appTokenGrant{}, tokensMinted: map[string]int{}}
}

func (b *browserWorld) close() {
	if b.bg != nil {
		_, _ = b.bg.halt()
	}
	for _, t := range b.tabs {
		t.close()
	}
	if b.profile != nil {
		b.profile.close()
	}
	for _, s := range b.apps {
		s.Close()
	}
}

func (b *browserWorld) tab(name string) (*tab, error) {
	if t := b.tabs[name]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("no tab %q", name)
}

// view returns what tab name shows now.
func (b *browserWorld) view(name string) (pageView, error) {
	t, err := b.tab(name)
	if err != nil {
		return pageView{}, err
	}
	return t.view()
}

// newTab opens a tab in the scenario's browser profile.
func (b *browserWorld) newTab(name string) (*tab, error) {
	if b.tabs[name] != nil {
		return nil, fmt.Errorf("tab %q is already open", name)
	}
	if b.profile == nil {
		p, err := newBrowserProfile()
		if err != nil {
			return nil, err
		}
		b.profile = p
	}
	t, err := b.profile.newTab(name)
	if err != nil {
		return nil, err
	}
	b.tabs[name] = t
	return t, nil
}

// base is the default server's base URL.
func (b *browserWorld) base() (string, error) {
	s, err := b.w.defaultServer()
	if err != nil {
		return "", err
	}
	return s.base(), nil
}

// expected returns the events published since the tab subscribed that match
// its topics, in stream order.
func (b *browserWorld) expected(name string) ([]published, error) {
	set, err := topic.NewSet(b.topics[name], topic.Limits{})
	if err != nil {
		return nil, err
	}
	var out []published
	for _, p := range b.w.published[b.since[name]:] {
		if set.Match(p.Topic) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y published) int { return cmp.Compare(x.Seq, y.Seq) })
	return out, nil
}

func seqs(ps []published) []uint64 {
	out := make([]uint64, len(ps))
	for i, p := range ps {
		out[i] = p.Seq
	}
	return out
}

// appPage is a web app on another origin: it serves its own copy of
// jetsse.js and uses the edge cross-origin with credentials.
const appPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A web app on another origin</title></head>
<body>
<output id="state" data-state="idle"></output>
<ol id="log"></ol>
<script type="module">
  // A page on its own origin, with its own copy of jetsse.js, using the edge
  // cross-origin with credentials.
  import { connect } from "/jetsse.js";
  const q = new URLSearchParams(location.search);
  const log = document.getElementById("log");
  const state = document.getElementById("state");
  function row(kind, text, id) {
    const li = document.createElement("li");
    li.className = kind === "event" ? "event" : "notice " + kind;
    if (id) li.dataset.id = id;
    const span = document.createElement("span");
    span.className = kind === "event" ? "data" : "text";
    span.textContent = text;
    li.append(span);
    log.prepend(li);
  }
  connect(q.get("edge") + "/events", {
    topics: q.getAll("topic"),
    credentials: "include",
    onState: (s, info) => { state.dataset.state = s; state.textContent = s + " " + (info.reason ?? ""); },
    onEvent: (e) => row("event", e.data, e.id),
    onSession: (s) => row("session", (s.resumed ? "Resumed" : "New") + " session, after event " + (s.lastEventId || "(live)")),
    onGap: (g) => row("gap", "up to " + g.missing + " events missing"),
    onTakeover: () => row("takeover", "taken over"),
    onReauth: (r) => row("reauth", "reauth: " + r.reason),
    // With ?token=1 the page asks its own server for a JWT (the token hook).
    token: q.get("token") ? async () => (await fetch("/token", { cache: "no-store" })).text() : undefined,
  });
</script>
</body></html>`
