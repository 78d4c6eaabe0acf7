// Command gosse is the resume probe in Go: the same measurement as
// ../resume.mjs with another client that shares nothing with jetsse or
// jetsse-bench: Go's net/http and the SSE parser of
// github.com/tmaxmax/go-sse (sse.Read). Per sample, on a fresh topic, it
// subscribes and waits until attached (jetsse: the session event;
// Centrifugo: the connect push), has -warmup events published and received,
// notes the position (jetsse: the last event ID and the session token;
// Centrifugo: offset and epoch), closes, publishes -m events over the
// server's HTTP API (the acknowledged IDs or offsets are the expected set),
// reconnects presenting the position, and times from the reconnect
// request's start (just before the dial) to the event that completes the
// set. By default the client does only what it must to know which events
// arrived (jetsse: the SSE id; Centrifugo: its JSON frame, data left raw);
// -decode-data also decodes every event's data as an application would. It
// checks that exactly the expected set arrived, none twice.
//
// client_floor_ms is the same client reading the same events, in the same
// server's framing, from a local server that writes them at once: the
// client's own share of catch_up_ms.
//
// It prints one JSON object to stdout and exits 1 when anything was lost,
// duplicated or late. See cmd/jetsse-bench/README.md ("Resume probe").
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ok, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "gosse:", err)
		os.Exit(2)
	case !ok:
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	server, url, token, apiKey, namespace, mode, label string
	m, warmup, repeat, conc                            int
	timeout, settle                                    time.Duration
	decodeData                                         bool
}

// run runs the probe and writes its result to stdout; ok is false when an
// event was lost, duplicated or late.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (ok bool, err error) {
	fs := flag.NewFlagSet("gosse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.server, "server", "", "jetsse or centrifugo")
	fs.StringVar(&c.url, "url", "", "server base URL (default jetsse http://127.0.0.1:8080, centrifugo http://127.0.0.1:8000)")
	fs.StringVar(&c.token, "publish-token", "", "jetsse: POST /publish bearer token")
	fs.StringVar(&c.apiKey, "api-key", "", "centrifugo: HTTP API key (X-API-Key)")
	fs.StringVar(&c.namespace, "namespace", "bench", "centrifugo: channel namespace")
	fs.StringVar(&c.mode, "mode", "last-event-id", "jetsse: last-event-id (Last-Event-ID and the session cookie, as a browser's EventSource) or id-only (Last-Event-ID alone)")
	fs.StringVar(&c.label, "label", "", "name in the result (default: -server)")
	fs.IntVar(&c.m, "m", 10_000, "events missed while disconnected")
	fs.IntVar(&c.warmup, "warmup", 10, "events received before disconnecting")
	fs.IntVar(&c.repeat, "repeat", 5, "samples, each on a fresh topic")
	fs.IntVar(&c.conc, "publish-concurrency", 16, "publish requests in flight")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "time a sample may take to catch up")
	fs.DurationVar(&c.settle, "settle", 0, "wait this long after the last missed event is acknowledged before reconnecting")
	fs.BoolVar(&c.decodeData, "decode-data", false, "also decode each event's data as JSON (an application's work; by default the client does only what it must to know which events arrived: jetsse's SSE id, Centrifugo's frame with the data left raw)")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	switch {
	case c.server != "jetsse" && c.server != "centrifugo":
		return false, errors.New("-server must be jetsse or centrifugo")
	case c.mode != "last-event-id" && c.mode != "id-only":
		return false, errors.New("-mode must be last-event-id or id-only")
	case c.m < 1 || c.m > 1_000_000 || c.warmup < 1 || c.warmup > 10_000 || c.repeat < 1 || c.repeat > 1000 || c.conc < 1 || c.conc > 256:
		return false, errors.New("-m in [1, 1000000], -warmup in [1, 10000], -repeat in [1, 1000], -publish-concurrency in [1, 256]")
	case c.timeout <= 0 || c.timeout > time.Hour:
		return false, errors.New("-timeout must be in (0, 1h]")
	}
	if c.url == "" {
		c.url = map[string]string{"jetsse": "http://127.0.0.1:8080", "centrifugo": "http://127.0.0.1:8000"}[c.server]
	}
	c.url = strings.TrimSuffix(c.url, "/")
	if c.label == "" {
		c.label = c.server
	}
	p := newProbe(c)
	defer p.close()

	res := result{
		Scenario: "resume-probe", Label: c.label, Server: c.server, Client: clientName(), URL: c.url,
		Params:  params{M: c.m, Warmup: c.warmup, Repeat: c.repeat, Mode: c.mode, Conc: c.conc, Decode: c.decodeData, Settle: c.settle.String()},
		Started: time.Now().UTC().Format(time.RFC3339Nano),
	}
	if c.server == "centrifugo" {
		res.Params.Mode = "recover"
	}
	var catch, first, floors []float64
	var lastIDs []string
	for i := range c.repeat {
		s, ids, err := p.sample(ctx, i+1)
		if err != nil {
			return false, err
		}
		lastIDs = ids
		fmt.Fprintf(stderr, "resume %s sample %d/%d: %d/%d received, dup %d, first %s ms, last %s ms, resumed %v\n",
			c.server, i+1, c.repeat, s.Received, s.Expected, s.Dup, fmtMs(s.FirstEventMs), fmtMs(s.CatchUpMs), s.Resumed)
		res.add(s)
		if s.Complete {
			catch, first = append(catch, *s.CatchUpMs), append(first, *s.FirstEventMs)
		}
	}
	for range c.repeat {
		ms, err := p.clientFloor(ctx, lastIDs)
		if err != nil {
			return false, err
		}
		if ms != nil {
			floors = append(floors, *ms)
		}
	}
	fmt.Fprintf(stderr, "resume %s: client floor (a local replay of the same events) %v ms\n", c.server, floors)
	res.CatchUpMs, res.FirstEventMs, res.ClientFloorMs = spreadOf(catch), spreadOf(first), spreadOf(floors)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return false, err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
		return false, err
	}
	return res.Complete && res.Lost == 0 && res.Dup == 0 && res.Unexpected == 0, nil
}

func clientName() string {
	v := "unknown version"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tmaxmax/go-sse" {
				v = d.Version
			}
		}
	}
	return fmt.Sprintf("Go net/http and github.com/tmaxmax/go-sse %s (sse.Read), %s", v, runtime.Version())
}

// result is what the probe prints: the fields of ../resume.mjs's result.
type result struct {
	Scenario      string   `json:"scenario"`
	Label         string   `json:"label"`
	Server        string   `json:"server"`
	Client        string   `json:"client"`
	URL           string   `json:"url"`
	Params        params   `json:"params"`
	Started       string   `json:"started"`
	CatchUpMs     *spread  `json:"catch_up_ms"`
	FirstEventMs  *spread  `json:"first_event_ms"`
	ClientFloorMs *spread  `json:"client_floor_ms"`
	Expected      int      `json:"expected"`
	Received      int      `json:"received"`
	Lost          int      `json:"lost"`
	Dup           int      `json:"dup"`
	Unexpected    int      `json:"unexpected"`
	NotResumed    int      `json:"not_resumed"`
	Complete      bool     `json:"complete"`
	Samples       []sample `json:"samples"`
}

type params struct {
	M      int    `json:"m"`
	Warmup int    `json:"warmup"`
	Repeat int    `json:"repeat"`
	Mode   string `json:"mode"`
	Conc   int    `json:"publish_concurrency"`
	Decode bool   `json:"decode_data"`
	Settle string `json:"settle"`
}

// sample is one reconnect.
type sample struct {
	Complete     bool     `json:"complete"`
	Resumed      bool     `json:"resumed"`
	Expected     int      `json:"expected"`
	Received     int      `json:"received"`
	Lost         int      `json:"lost"`
	Dup          int      `json:"dup"`
	Unexpected   int      `json:"unexpected"`
	Gaps         int      `json:"gaps"`
	Undecodable  int      `json:"undecodable"` // with -decode-data: data that was not the payload's JSON
	FirstEventMs *float64 `json:"first_event_ms"`
	CatchUpMs    *float64 `json:"catch_up_ms"`
}

func (r *result) add(s sample) {
	if len(r.Samples) == 0 {
		r.Complete = true
	}
	r.Samples = append(r.Samples, s)
	r.Expected += s.Expected
	r.Received += s.Received
	r.Lost += s.Lost
	r.Dup += s.Dup
	r.Unexpected += s.Unexpected + s.Undecodable
	r.Complete = r.Complete && s.Complete
	if !s.Resumed && !(r.Server == "jetsse" && r.Params.Mode == "id-only") {
		r.NotResumed++
	}
}

type spread struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spreadOf(vs []float64) *spread {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &spread{N: len(s), Median: round3(med), Min: s[0], Max: s[len(s)-1]}
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func ms(d time.Duration) *float64 {
	v := round3(float64(d) / float64(time.Millisecond))
	return &v
}

func fmtMs(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

// listenLocal listens on a random loopback port, for the client floor.
func listenLocal() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// replayHandler writes its bytes as one event stream and ends it.
type replayHandler []byte

func (b replayHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
