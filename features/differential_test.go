package features

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jetsse/jetsse/pkg/sse"
)

// diffEvent is one event as a parser dispatched it.
type diffEvent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data string `json:"data"`
}

// diffCorpus holds payloads and event types that stress the framing: line
// breaks of every kind, empty data, leading spaces, colons, lines that look
// like fields or comments, unicode (with U+2028, U+2029 and NEL, which are
// not SSE line breaks), a BOM, NUL and other controls, long payloads, and
// event types with odd characters (NATS trims spaces around header values,
// so " leading" and "trailing " are stored trimmed; the test compares with
// what the stream holds).
var diffCorpus = []struct{ typ, data string }{
	{"", "hello"},
	{"", ""},
	{"", "a\nb"},
	{"", "a\rb"},
	{"", "a\r\nb"},
	{"", "a\n\rb"},
	{"", "a\n"},
	{"", "\na"},
	{"", "\n\r\n\r"},
	{"", "a\n\n\nb"},
	{"", " leading space"},
	{"", "  two leading spaces\n   three"},
	{"", ":"},
	{"", ": not a comment\n:nor this"},
	{"", "data:x"},
	{"", "id: 99\nevent: evil\nretry: 1\ndata: x\n\nid: 100"},
	{"", "héllo wörld ✓ 日本語 🎉 e\u0301"},
	{"", "a\u2028b\u2029c\u0085d"},
	{"", "\ufeffBOM first"},
	{"", "a\x00b\x00"},
	{"", "\ttab\x01\x1f\x7f"},
	{"", `{"json":true,"nested":{"s":"x\ny"}}`},
	{"", strings.Repeat("x", 200_000)},
	{"", strings.Repeat("line of text\r\n", 5000)},
	{"has: colon", "typed"},
	{" leading", "typed"},
	{"trailing ", "typed"},
	{"ünïcødé-🎉", "typed"},
	{"a\tb", "typed"},
	{"a=b;c,d/e<f>", "typed"},
	{"data", "typed"},
	{"id", "typed"},
	{"retry", "typed"},
	{"message", "explicitly a message"},
	{"order.created", "multi\r\nline"},
	{"nul\x00in type", "typed"},
}

// TestDifferentialParsers feeds jetsse's real output (the edge over HTTP,
// events published over NATS) to independent SSE parsers: the npm
// eventsource package under Node, Chromium's EventSource, and jetsse.js in
// Chromium. Each must dispatch exactly the events (id, type, data) that
// jetsse's Go decoder sees, and those must be what was published.
func TestDifferentialParsers(t *testing.T) {
	nodeDir := installEventSource(t)
	w := newWorld(t.TempDir())
	defer w.close()
	s, err := w.startServer("edge", filepath.Join(w.dir, "edge"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range diffCorpus {
		if _, err := w.publishNATS(fmt.Sprintf("diff.%d", i), c.typ, c.data); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	want, err := storedEvents(w)
	if err != nil {
		t.Fatal(err)
	}
	types := []string{"message"}
	for _, e := range want {
		types = append(types, e.Type)
	}
	url := s.base() + "/events?topic=diff.%3E&lastEventId=0"

	results := map[string][]diffEvent{"Go decoder": goDecode(t, url, len(want))}
	results["npm eventsource"] = nodeDecode(t, nodeDir, url, len(want), types)
	results["Chromium EventSource"], results["jetsse.js in Chromium"] = chromiumDecode(t, s.base(), len(want), types)

	var typed []string
	for _, e := range want {
		if e.Type != "message" {
			typed = append(typed, strconv.Quote(e.Type))
		}
	}
	t.Logf("%d events (event types as stored: %s) compared across %d parsers", len(want), strings.Join(typed, ", "), len(results))
	for parser, got := range results {
		if len(got) != len(want) {
			t.Errorf("%s dispatched %d events, want %d", parser, len(got), len(want))
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: event %d is %s, want %s", parser, i, short(got[i]), short(want[i]))
			}
		}
	}
}

func short(e diffEvent) string {
	d := e.Data
	if len(d) > 60 {
		d = fmt.Sprintf("%.60s… (%d bytes)", d, len(d))
	}
	return fmt.Sprintf("{id %q, type %q, data %q}", e.ID, e.Type, d)
}

// storedEvents returns what the stream holds, as every client must see it:
// CR, LF and CRLF in data each one LF; CR and LF dropped from the type; no
// type is "message".
func storedEvents(w *world) ([]diffEvent, error) {
	js, err := w.js()
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(context.Background(), "EVENTS")
	if err != nil {
		return nil, err
	}
	var out []diffEvent
	for _, p := range w.published {
		m, err := st.GetMsg(context.Background(), p.Seq)
		if err != nil {
			return nil, err
		}
		typ := sse.CleanType(m.Header.Get("Sse-Event"))
		if typ == "" {
			typ = "message"
		}
		data := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(m.Data))
		out = append(out, diffEvent{ID: strconv.FormatUint(p.Seq, 10), Type: typ, Data: data})
	}
	return out, nil
}

func goDecode(t *testing.T, url string, n int) []diffEvent {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	d := sse.NewDecoder(res.Body)
	var out []diffEvent
	for len(out) < n {
		ev, err := d.Next()
		if err != nil {
			t.Errorf("Go decoder: %v after %d events", err, len(out))
			return out
		}
		if ev.Type == "session" || ev.Type == "gap" {
			continue
		}
		typ := ev.Type
		if typ == "" {
			typ = "message"
		}
		out = append(out, diffEvent{ID: ev.ID, Type: typ, Data: string(ev.Data)})
	}
	return out
}

// installEventSource installs the npm eventsource package into a temporary
// directory and returns it.
func installEventSource(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: the differential test needs Node.js 20 or later and npm (Debian: apt-get install nodejs npm)", tool)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private": true, "type": "module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "eventsource@4.1.1")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install eventsource: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "collect.mjs"), []byte(collectJS), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// collectJS collects n events with the npm eventsource package and prints
// them as JSON.
const collectJS = `import { EventSource } from "eventsource";
const [url, n, types] = [process.argv[2], Number(process.argv[3]), JSON.parse(process.argv[4])];
const out = [];
const es = new EventSource(url);
const timer = setTimeout(() => { console.error("timed out with", out.length, "events"); process.exit(2); }, 20000);
const on = (e) => {
  out.push({ id: e.lastEventId, type: e.type, data: e.data });
  if (out.length === n) {
    es.close();
    clearTimeout(timer);
    process.stdout.write(JSON.stringify(out));
  }
};
for (const t of new Set(types)) es.addEventListener(t, on);
es.onerror = (e) => console.error("eventsource error:", e.message ?? e);
`

func nodeDecode(t *testing.T, dir, url string, n int, types []string) []diffEvent {
	tj, _ := json.Marshal(types)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "collect.mjs", url, strconv.Itoa(n), string(tj))
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("npm eventsource: %v\n%s", err, stderr.String())
		return nil
	}
	var evs []diffEvent
	if err := json.Unmarshal(out, &evs); err != nil {
		t.Errorf("npm eventsource output: %v", err)
	}
	return evs
}

// chromiumDecode collects the events in a page on the edge's origin, once
// with the browser's EventSource and once with jetsse.js.
func chromiumDecode(t *testing.T, base string, n int, types []string) (native, helper []diffEvent) {
	p, err := newBrowserProfile()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	tb, err := p.newTab("differential")
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.do(chromedp.Navigate(base + "/")); err != nil {
		t.Fatal(err)
	}
	tj, _ := json.Marshal(types)
	native, err = evalIn[[]diffEvent](tb, fmt.Sprintf(`new Promise((resolve, reject) => {
  const out = [];
  const es = new EventSource("/events?topic=diff.%%3E&lastEventId=0");
  const timer = setTimeout(() => reject(new Error("timed out with " + out.length + " events")), 20000);
  const on = (e) => {
    out.push({ id: e.lastEventId, type: e.type, data: e.data });
    if (out.length === %d) { es.close(); clearTimeout(timer); resolve(out); }
  };
  for (const t of new Set(%s)) es.addEventListener(t, on);
})`, n, tj))
	if err != nil {
		t.Errorf("Chromium EventSource: %v", err)
	}
	helper, err = evalIn[[]diffEvent](tb, fmt.Sprintf(`import("/jetsse.js").then(({ connect }) => new Promise((resolve, reject) => {
  const out = [];
  const timer = setTimeout(() => reject(new Error("timed out with " + out.length + " events")), 20000);
  const sub = connect("/events", {
    topics: ["diff.>"], lastEventId: "0", storage: null,
    onEvent: (e) => {
      out.push(e);
      if (out.length === %d) { sub.close(); clearTimeout(timer); resolve(out); }
    },
  });
}))`, n))
	if err != nil {
		t.Errorf("jetsse.js in Chromium: %v", err)
	}
	return native, helper
}
