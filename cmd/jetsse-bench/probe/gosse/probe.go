package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	sse "github.com/tmaxmax/go-sse"
)

// payload is every event's data: the publisher's send time and counter.
type payload struct {
	T int64 `json:"t"`
	N int64 `json:"n"`
}

// position is where a client stopped.
type position struct {
	lastID, epoch, token string
}

// target is how one server subscribes, publishes and resumes.
type target interface {
	topic() string
	publish(ctx context.Context, hc *http.Client, topic string, data []byte) (id string, err error)
	subscribeURL(topic string) string
	resume(topic string, pos position) (string, http.Header)
	// handle interprets one event of topic for st.
	handle(st *stream, topic string, ev sse.Event)
	// replay is what the server writes when it resumes ids.
	replay(topic string, ids []string) []byte
}

// probe holds the HTTP clients: one for publishing (keep-alive), one for
// streams (a new connection each, as jetsse-bench and EventSource open).
type probe struct {
	cfg     config
	t       target
	pubC    *http.Client
	streamC *http.Client
}

func newProbe(c config) *probe {
	p := &probe{
		cfg:     c,
		pubC:    &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.conc}, Timeout: 30 * time.Second},
		streamC: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}},
	}
	if c.server == "jetsse" {
		p.t = jetsse{c}
	} else {
		p.t = centrifugo{c}
	}
	return p
}

func (p *probe) close() {
	p.pubC.CloseIdleConnections()
	p.streamC.CloseIdleConnections()
}

// publishAll publishes n events (counters first, first+1, ...) with the
// configured concurrency and returns the acknowledged IDs.
func (p *probe) publishAll(ctx context.Context, topic string, first, n int) ([]string, error) {
	ids := make([]string, n)
	next := make(chan int)
	errs := make(chan error, p.cfg.conc)
	var wg sync.WaitGroup
	for range min(p.cfg.conc, n) {
		wg.Go(func() {
			for i := range next {
				data, _ := json.Marshal(payload{T: time.Now().UnixMilli(), N: int64(first + i)})
				id, err := p.t.publish(ctx, p.pubC, topic, data)
				if err != nil {
					errs <- err
					return
				}
				ids[i] = id
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return ids, err
}

// sample measures one reconnect on a fresh topic and returns the IDs it
// expected.
func (p *probe) sample(ctx context.Context, i int) (sample, []string, error) {
	topic := p.t.topic()
	c1 := p.connect(ctx, topic, p.t.subscribeURL(topic), nil, nil, p.cfg.warmup)
	select {
	case <-c1.attached:
	case <-c1.done:
	}
	if _, err := p.publishAll(ctx, topic, 1, p.cfg.warmup); err != nil {
		c1.close()
		return sample{}, nil, err
	}
	<-c1.done
	c1.close()
	if c1.received != p.cfg.warmup || c1.dup != 0 {
		return sample{}, nil, fmt.Errorf("sample %d: %d of %d warm-up events, %d duplicates (%v)", i, c1.received, p.cfg.warmup, c1.dup, c1.err)
	}
	pos := c1.pos
	pos.token = c1.token

	ids, err := p.publishAll(ctx, topic, p.cfg.warmup+1, p.cfg.m)
	if err != nil {
		return sample{}, nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	if len(want) != p.cfg.m {
		return sample{}, nil, fmt.Errorf("sample %d: %d distinct IDs acknowledged for %d events", i, len(want), p.cfg.m)
	}

	if p.cfg.settle > 0 {
		select {
		case <-time.After(p.cfg.settle):
		case <-ctx.Done():
			return sample{}, nil, ctx.Err()
		}
	}
	u, h := p.t.resume(topic, pos)
	c2 := p.connect(ctx, topic, u, h, want, p.cfg.m)
	<-c2.done
	c2.close()
	s := sample{
		Complete: !c2.last.IsZero(), Resumed: c2.resumed, Expected: p.cfg.m, Received: c2.received,
		Lost: p.cfg.m - c2.received, Dup: c2.dup, Unexpected: c2.unexpected, Gaps: c2.gaps,
		Undecodable: c2.undecodable,
	}
	if !c2.first.IsZero() && s.Complete {
		s.FirstEventMs, s.CatchUpMs = ms(c2.first.Sub(c2.t0)), ms(c2.last.Sub(c2.t0))
	}
	return s, ids, nil
}

// clientFloor times the client reading a resume of ids from a local server
// that writes them at once.
func (p *probe) clientFloor(ctx context.Context, ids []string) (*float64, error) {
	topic := p.t.topic()
	ln, err := listenLocal()
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: replayHandler(p.t.replay(topic, ids)), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); <-served }()
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	c := p.connect(ctx, topic, "http://"+ln.Addr().String()+"/", nil, want, len(ids))
	<-c.done
	c.close()
	if c.last.IsZero() {
		return nil, nil
	}
	return ms(c.last.Sub(c.t0)), nil
}

// stream is one subscription, read by its own goroutine. Its fields are
// the reader's until done is closed (or close returned).
type stream struct {
	want  map[string]bool // nil: every new ID counts
	count int

	t0, first, last           time.Time
	received, dup, unexpected int
	gaps, undecodable         int
	resumed                   bool
	token                     string
	pos                       position
	seen                      map[string]bool
	err                       error

	attached     chan struct{}
	attachedOnce sync.Once
	done         chan struct{}
	doneOnce     sync.Once
	stop         context.CancelFunc
	ended        chan struct{}
}

// connect subscribes with a GET of u presenting h; the stream is done when
// count IDs were received, the stream failed, or the timeout passed.
func (p *probe) connect(ctx context.Context, topic, u string, h http.Header, want map[string]bool, count int) *stream {
	ctx, stop := context.WithCancel(ctx)
	st := &stream{
		want: want, count: count, seen: make(map[string]bool, count),
		attached: make(chan struct{}), done: make(chan struct{}), stop: stop, ended: make(chan struct{}),
	}
	timer := time.AfterFunc(p.cfg.timeout, st.finish)
	go func() {
		defer close(st.ended)
		defer timer.Stop()
		defer st.finish()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			st.err = err
			return
		}
		for k, v := range h {
			req.Header[k] = v
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-store")
		st.t0 = time.Now()
		resp, err := p.streamC.Do(req)
		if err != nil {
			st.err = err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			st.err = fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, bytes.TrimSpace(b))
			return
		}
		st.token = resp.Header.Get("Jetsse-Session")
		for ev, err := range sse.Read(resp.Body, &sse.ReadConfig{MaxEventSize: 64 << 20}) {
			if err != nil {
				st.err = err
				return
			}
			p.t.handle(st, topic, ev)
			if st.isDone() {
				return
			}
		}
	}()
	return st
}

func (st *stream) markAttached(resumed bool) {
	st.resumed = resumed
	st.attachedOnce.Do(func() { close(st.attached) })
}

// ids counts the IDs one message carried. It reads the clock only for the
// first and the last ID counted (a clock reading per event cost this
// client about 1 ms per 10,000 events), the same for every server.
func (st *stream) ids(ids ...string) {
	for _, id := range ids {
		switch {
		case st.seen[id]:
			st.dup++
		case st.want == nil || st.want[id]:
			st.seen[id] = true
			st.received++
			if st.first.IsZero() {
				st.first = time.Now()
			}
		default:
			st.unexpected++
		}
	}
	if st.received == st.count && st.last.IsZero() {
		st.last = time.Now()
		st.finish()
	}
}

func (st *stream) finish() { st.doneOnce.Do(func() { close(st.done) }) }

func (st *stream) isDone() bool {
	select {
	case <-st.done:
		return true
	default:
		return false
	}
}

// close ends the stream and waits for its reader.
func (st *stream) close() {
	st.stop()
	<-st.ended
}

func randomTopic() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "probe.resume." + hex.EncodeToString(b[:])
}

func postJSON(ctx context.Context, hc *http.Client, u string, h http.Header, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %d: %s", u, resp.StatusCode, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

// jetsse: POST /publish, GET /events, Last-Event-ID (and the cookie).
type jetsse struct{ c config }

func (j jetsse) topic() string { return randomTopic() }

func (j jetsse) publish(ctx context.Context, hc *http.Client, topic string, data []byte) (string, error) {
	body, _ := json.Marshal(map[string]string{"topic": topic, "data": string(data)})
	var r struct {
		ID string `json:"id"`
	}
	err := postJSON(ctx, hc, j.c.url+"/publish", http.Header{"Authorization": {"Bearer " + j.c.token}}, body, &r)
	return r.ID, err
}

func (j jetsse) subscribeURL(topic string) string {
	return j.c.url + "/events?topic=" + url.QueryEscape(topic)
}

func (j jetsse) resume(topic string, pos position) (string, http.Header) {
	h := http.Header{"Last-Event-ID": {pos.lastID}}
	if j.c.mode == "last-event-id" && pos.token != "" {
		h.Set("Cookie", "jetsse_session="+pos.token)
	}
	return j.subscribeURL(topic), h
}

func (j jetsse) handle(st *stream, _ string, ev sse.Event) {
	switch ev.Type {
	case "session":
		var s struct {
			Resumed bool `json:"resumed"`
		}
		_ = json.Unmarshal([]byte(ev.Data), &s)
		st.markAttached(s.Resumed)
	case "gap":
		st.gaps++
	case "", "message":
		if j.c.decodeData {
			var p payload
			if json.Unmarshal([]byte(ev.Data), &p) != nil {
				st.undecodable++
			}
		}
		st.pos.lastID = ev.LastEventID
		st.ids(ev.LastEventID)
	}
}

func (j jetsse) replay(_ string, ids []string) []byte {
	b := []byte("retry: 2000\n\nevent: session\ndata: {\"session\":\"00000000000000000000000000000000\",\"resumed\":true,\"last_event_id\":\"0\"}\n\n")
	for i, id := range ids {
		data, _ := json.Marshal(payload{T: time.Now().UnixMilli(), N: int64(i + 1)})
		b = fmt.Appendf(b, "id: %s\ndata: %s\n\n", id, data)
	}
	return b
}

// centrifugo: POST /api/publish, uni_sse with cf_connect and recovery.
type centrifugo struct{ c config }

func (cf centrifugo) topic() string { return cf.c.namespace + ":" + randomTopic() }

func (cf centrifugo) publish(ctx context.Context, hc *http.Client, channel string, data []byte) (string, error) {
	body, _ := json.Marshal(map[string]any{"channel": channel, "data": json.RawMessage(data)})
	var r struct {
		Result struct {
			Offset uint64 `json:"offset"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	if err := postJSON(ctx, hc, cf.c.url+"/api/publish", http.Header{"X-Api-Key": {cf.c.apiKey}}, body, &r); err != nil {
		return "", err
	}
	if len(r.Error) > 0 {
		return "", fmt.Errorf("publish: %s", r.Error)
	}
	return strconv.FormatUint(r.Result.Offset, 10), nil
}

func (cf centrifugo) connectURL(sub map[string]any, channel string) string {
	b, _ := json.Marshal(map[string]any{"subs": map[string]any{channel: sub}})
	return cf.c.url + "/connection/uni_sse?cf_connect=" + url.QueryEscape(string(b))
}

func (cf centrifugo) subscribeURL(channel string) string {
	return cf.connectURL(map[string]any{}, channel)
}

func (cf centrifugo) resume(channel string, pos position) (string, http.Header) {
	off, _ := strconv.ParseUint(pos.lastID, 10, 64)
	return cf.connectURL(map[string]any{"recover": true, "offset": off, "epoch": pos.epoch}, channel), nil
}

// publication is one Centrifugo publication; its data is decoded with
// -decode-data only.
type publication struct {
	Data   json.RawMessage `json:"data"`
	Offset uint64          `json:"offset"`
	Epoch  string          `json:"epoch"`
}

func (cf centrifugo) decode(st *stream, data json.RawMessage) {
	if cf.c.decodeData {
		var p payload
		if json.Unmarshal(data, &p) != nil {
			st.undecodable++
		}
	}
}

func (cf centrifugo) handle(st *stream, channel string, ev sse.Event) {
	var m struct {
		Connect *struct {
			Subs map[string]struct {
				Epoch        string        `json:"epoch"`
				Recovered    bool          `json:"recovered"`
				Publications []publication `json:"publications"`
			} `json:"subs"`
		} `json:"connect"`
		Channel string       `json:"channel"`
		Pub     *publication `json:"pub"`
	}
	if json.Unmarshal([]byte(ev.Data), &m) != nil {
		return
	}
	switch {
	case m.Connect != nil:
		sub := m.Connect.Subs[channel]
		if sub.Epoch != "" {
			st.pos.epoch = sub.Epoch
		}
		st.markAttached(sub.Recovered)
		if n := len(sub.Publications); n > 0 {
			ids := make([]string, n)
			for i, p := range sub.Publications {
				ids[i] = strconv.FormatUint(p.Offset, 10)
				cf.decode(st, p.Data)
			}
			st.pos.lastID = ids[n-1]
			st.ids(ids...)
		}
	case m.Channel == channel && m.Pub != nil:
		if m.Pub.Epoch != "" {
			st.pos.epoch = m.Pub.Epoch
		}
		id := strconv.FormatUint(m.Pub.Offset, 10)
		cf.decode(st, m.Pub.Data)
		st.pos.lastID = id
		st.ids(id)
	}
}

func (cf centrifugo) replay(channel string, ids []string) []byte {
	pubs := make([]map[string]any, len(ids))
	for i, id := range ids {
		off, _ := strconv.ParseUint(id, 10, 64)
		pubs[i] = map[string]any{"data": payload{T: time.Now().UnixMilli(), N: int64(i + 1)}, "offset": off}
	}
	b, _ := json.Marshal(map[string]any{"connect": map[string]any{
		"client": "00000000-0000-0000-0000-000000000000", "version": "6.9.1 OSS",
		"subs": map[string]any{channel: map[string]any{
			"recoverable": true, "epoch": "AbCdEfGh", "publications": pubs, "recovered": true,
			"offset": 0, "positioned": true, "was_recovering": true,
		}},
		"ping": 25, "session": "00000000-0000-0000-0000-000000000000",
	}})
	return fmt.Appendf(nil, "data: %s\n\n", b)
}
