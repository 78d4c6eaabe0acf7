package features

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

type sentRequest struct {
	URL     string
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
			out = append(out, sentRequest{URL: u, Headers: t.headers[id]})
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

// background publishes events one at a time to a topic until stopped, each
// with its own Nats-Msg-Id and retried until acknowledged (a server that is
// down or restarting stores each event exactly once).
type background struct {
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	acked []published
	err   error
}

func startBackground(natsURL, subject, topic string, every time.Duration) (*background, error) {
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b := &background{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		defer nc.Close()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-b.stop:
				return
			case <-tick.C:
			}
			data := fmt.Sprintf("background #%d", i)
			msg := nats.NewMsg(subject)
			msg.Data = []byte(data)
			msg.Header.Set("Nats-Msg-Id", fmt.Sprintf("bg-%d", i))
			deadline := time.Now().Add(4 * waitTimeout)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				ack, err := js.PublishMsg(ctx, msg)
				cancel()
				if err == nil {
					b.mu.Lock()
					b.acked = append(b.acked, published{Seq: ack.Sequence, Topic: topic, Data: data})
					b.mu.Unlock()
					break
				}
				if time.Now().After(deadline) {
					b.mu.Lock()
					b.err = fmt.Errorf("background publish %d never acknowledged: %w", i, err)
					b.mu.Unlock()
					return
				}
			}
		}
	}()
	return b, nil
}

// count returns how many events were acknowledged so far.
func (b *background) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.acked)
}

// seq returns the sequence of the i-th acknowledged event (0-based).
func (b *background) seq(i int) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acked[i].Seq
}

// wait waits until at least n events were acknowledged.
func (b *background) wait(n int) error {
	deadline := time.Now().Add(2 * waitTimeout)
	for b.count() < n {
		b.mu.Lock()
		err := b.err
		b.mu.Unlock()
		if err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d background events acknowledged", b.count(), n)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	return nil
}

// halt stops publishing and returns what was acknowledged, in order.
func (b *background) halt() ([]published, error) {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acked, b.err
}
