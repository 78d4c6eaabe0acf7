package features

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/eventlog"
)

// limitsState is what a scenario about limits keeps: the answers to a
// burst of requests, the streams it holds open, and the session tokens it
// made.
type limitsState struct {
	answers []answer
	open    []*http.Response
	tokens  []string
	opened  int // streams accepted (and held open)
	refused int // streams refused with a correct 429
}

// answer is one request's outcome.
type answer struct {
	status     int
	retryAfter string
	body       string
	ctype      string
	token      string
}

func (l *limitsState) close() {
	for _, r := range l.open {
		r.Body.Close()
	}
	l.open = nil
}

func (w *world) registerLimits(sc *godog.ScenarioContext) {
	sc.Step(`^client "(\w+)" subscribes to "([^"]*)" from (127\.\d+\.\d+\.\d+)$`, func(name, topics, addr string) error {
		return w.subscribe(name, topics, "", connectOptions{fromAddr: addr})
	})
	sc.Step(`^(\d+) new sessions are asked for from (\S+) at once while (\d+) events are published to "([^"]*)"$`, w.floodWhilePublishing)
	sc.Step(`^(\d+) new sessions are asked for from (\S+) at once$`, func(n int, addr string) error {
		return w.flood(n, func(int) string { return addr })
	})
	sc.Step(`^1 new session is asked for from each of (\d+) addresses at once$`, func(n int) error {
		return w.flood(n, func(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) })
	})
	sc.Step(`^at least (\d+) and at most (\d+) of them got a session$`, w.sessionsGranted)
	sc.Step(`^the others got 429 with Retry-After and a JSON error$`, w.othersWereLimited)
	sc.Step(`^a client at (\S+) subscribes to "([^"]*)"$`, func(addr, topics string) error {
		return w.streamRequest(addr, topics, nil, false)
	})
	sc.Step(`^an EventSource at (\S+) subscribes to "([^"]*)"$`, func(addr, topics string) error {
		return w.streamRequest(addr, topics, http.Header{"Accept": {"text/event-stream"}}, true)
	})
	sc.Step(`^the stream says to retry in at least (\d+) seconds and holds no session$`, w.streamSaysRetry)
	sc.Step(`^(\d+) sessions exist$`, w.sessionsExist)
	sc.Step(`^(\d+) of those sessions connect from (\S+)$`, w.sessionsConnectFrom)
	sc.Step(`^(\d+) clients at (\S+) subscribe to "([^"]*)"$`, w.clientsAtSubscribe)
	sc.Step(`^(\d+) streams are open and (\d+) got 429 with Retry-After and a JSON error$`, w.streamsOpenAndRefused)
	sc.Step(`^a client forwarded for (\S+) subscribes to "([^"]*)"$`, w.forwardedClientSubscribes)
	sc.Step(`^a client sends a request with (\d+) bytes of headers$`, w.bigHeaders)
	sc.Step(`^the session bucket keeps at most (\d+) bytes, values of at most the largest session record$`, w.bucketIsBounded)
}

// clientFrom is an HTTP client whose connections come from addr (a
// loopback address: another client address to the server).
func clientFrom(addr string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: waitTimeout}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true, DisableCompression: true}}
}

// ask sends one stream request from addr and records its answer. An
// accepted stream is held open when keep is set (it then counts as a
// connection), else closed at once.
func (w *world) ask(addr, query string, header http.Header, keep bool) (answer, *http.Response, error) {
	s, err := w.defaultServer()
	if err != nil {
		return answer{}, nil, err
	}
	req, err := http.NewRequest(http.MethodGet, s.base()+"/events?"+query, nil)
	if err != nil {
		return answer{}, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := clientFrom(addr).Do(req)
	if err != nil {
		return answer{}, nil, err
	}
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), ctype: resp.Header.Get("Content-Type"),
		token: resp.Header.Get("Jetsse-Session")}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		a.body = string(b)
	}
	if keep && resp.StatusCode == http.StatusOK {
		return a, resp, nil
	}
	resp.Body.Close()
	return a, nil, nil
}

// flood asks for n new sessions at once, request i from addr(i), 32 at a
// time, and keeps the answers.
func (w *world) flood(n int, addr func(i int) string) error {
	answers := make([]answer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			answers[i], _, errs[i] = w.ask(addr(i), "topic=t", nil, false)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	w.limits.answers = answers
	return nil
}

func (w *world) floodWhilePublishing(n int, addr string, events int, topic string) error {
	done := make(chan error, 1)
	go func() { done <- w.flood(n, func(int) string { return addr }) }()
	perr := w.eventsArePublished(events, topic)
	if err := <-done; err != nil {
		return err
	}
	return perr
}

func (w *world) sessionsGranted(lo, hi int) error {
	n := 0
	for _, a := range w.limits.answers {
		if a.status == http.StatusOK {
			n++
		}
	}
	if n < lo || n > hi {
		return fmt.Errorf("%d of %d got a session, want %d to %d", n, len(w.limits.answers), lo, hi)
	}
	return nil
}

// limitedOK reports what is wrong with a refusal by a limit, if anything.
func limitedOK(a answer) error {
	secs, err := strconv.Atoi(a.retryAfter)
	switch {
	case a.status != http.StatusTooManyRequests:
		return fmt.Errorf("status %d (%s)", a.status, a.body)
	case err != nil || secs < 1:
		return fmt.Errorf("Retry-After %q", a.retryAfter)
	case a.ctype != "application/json" || !strings.Contains(a.body, `"error"`):
		return fmt.Errorf("not a JSON error: %s %q", a.ctype, a.body)
	}
	return nil
}

func (w *world) othersWereLimited() error {
	for _, a := range w.limits.answers {
		if a.status == http.StatusOK {
			continue
		}
		if err := limitedOK(a); err != nil {
			return err
		}
	}
	return nil
}

// streamRequest asks for a stream from addr and keeps the answer as the
// last response; with readAll the body is read until the server ends it.
func (w *world) streamRequest(addr, topics string, header http.Header, readAll bool) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	q := url.Values{}
	for _, t := range splitList(topics) {
		q.Add("topic", t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base()+"/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := clientFrom(addr).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w.status, w.header, w.body = resp.StatusCode, resp.Header, ""
	if resp.StatusCode != http.StatusOK || readAll {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return err
		}
		w.body = string(b)
	}
	return nil
}

func (w *world) streamSaysRetry(secs int) error {
	if ct := w.header.Get("Content-Type"); ct != "text/event-stream" {
		return fmt.Errorf("Content-Type %q", ct)
	}
	retry := -1
	for _, line := range strings.Split(w.body, "\n") {
		if v, ok := strings.CutPrefix(line, "retry:"); ok {
			retry, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if retry < secs*1000 {
		return fmt.Errorf("retry %d ms in %q", retry, w.body)
	}
	if strings.Contains(w.body, "event:") {
		return fmt.Errorf("events in %q", w.body)
	}
	return nil
}

// sessionsExist makes n sessions, 50 from each of as many addresses (within
// the default per-address burst), and keeps their tokens.
func (w *world) sessionsExist(n int) error {
	if err := w.flood(n, func(i int) string { return fmt.Sprintf("127.0.2.%d", i/50+1) }); err != nil {
		return err
	}
	w.limits.tokens = nil
	for _, a := range w.limits.answers {
		if a.status != http.StatusOK || a.token == "" {
			return fmt.Errorf("making a session: %d %s", a.status, a.body)
		}
		w.limits.tokens = append(w.limits.tokens, a.token)
	}
	return nil
}

// hold asks for one stream and keeps it open if accepted, counting it as
// opened or (if correctly refused by a limit) refused.
func (w *world) hold(addr, query string, header http.Header) error {
	a, resp, err := w.ask(addr, query, header, true)
	if err != nil {
		return err
	}
	w.status, w.body = a.status, a.body
	if resp != nil {
		w.limits.open = append(w.limits.open, resp)
		w.limits.opened++
		return nil
	}
	if err := limitedOK(a); err != nil {
		return err
	}
	w.limits.refused++
	return nil
}

func (w *world) sessionsConnectFrom(n int, addr string) error {
	if n > len(w.limits.tokens) {
		return fmt.Errorf("only %d sessions exist", len(w.limits.tokens))
	}
	for _, tok := range w.limits.tokens[:n] {
		if err := w.hold(addr, "topic=t", http.Header{"Jetsse-Session": {tok}}); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) clientsAtSubscribe(n int, addr, topics string) error {
	for range n {
		if err := w.hold(addr, "topic="+url.QueryEscape(topics), nil); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) streamsOpenAndRefused(open, refused int) error {
	if w.limits.opened != open || w.limits.refused != refused {
		return fmt.Errorf("%d streams open and %d refused, want %d and %d", w.limits.opened, w.limits.refused, open, refused)
	}
	return nil
}

func (w *world) forwardedClientSubscribes(client, topics string) error {
	a, resp, err := w.ask("127.0.0.1", "topic="+url.QueryEscape(topics), http.Header{"X-Forwarded-For": {client}}, true)
	if err != nil {
		return err
	}
	w.status, w.body = a.status, a.body
	if resp != nil {
		w.limits.open = append(w.limits.open, resp)
	}
	return nil
}

func (w *world) bigHeaders(n int) error {
	s, err := w.defaultServer()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodGet, s.base()+"/events?topic=t", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Padding", strings.Repeat("p", n))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return w.do(req.WithContext(ctx))
}

func (w *world) bucketIsBounded(maxBytes int64) error {
	js, err := w.js()
	if err != nil {
		return err
	}
	st, err := js.Stream(context.Background(), "KV_jetsse_sessions")
	if err != nil {
		return err
	}
	cfg := st.CachedInfo().Config
	want := int32(eventlog.MaxRecordSize(defaults.MaxTopics, defaults.MaxTopicLen))
	if cfg.MaxBytes != maxBytes || cfg.MaxMsgSize != want {
		return fmt.Errorf("bucket max bytes %d, max value %d; want %d and %d", cfg.MaxBytes, cfg.MaxMsgSize, maxBytes, want)
	}
	return nil
}
