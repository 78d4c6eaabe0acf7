package httptransport

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/auth"

	"github.com/jetsse/jetsse/internal/edgetest"
	"github.com/jetsse/jetsse/pkg/platform"
	"github.com/jetsse/jetsse/services/edge"
)

// held returns how many connections the pooled writer serves.
func (l *Lite) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

type liteRig struct {
	svc  *edge.Edge
	deps edgetest.Deps
	lite *Lite
	url  string
}

func newLiteRig(t *testing.T, heartbeat time.Duration) *liteRig {
	t.Helper()
	lite, err := NewLite(LiteConfig{Heartbeat: heartbeat, Retry: time.Second})
	if err != nil {
		if err == platform.ErrUnsupported {
			t.Skip("the pooled writer needs Linux (platform.NewPoller)")
		}
		t.Fatal(err)
	}
	d := edgetest.Start(t)
	svc, err := edge.NewService(edge.Config{Store: d.Log, Live: d.Hub, Keys: d.Keys, NodeID: "lite"})
	if err != nil {
		t.Fatal(err)
	}
	edgetest.Run(t, svc.Run)
	edgetest.Run(t, lite.Run)
	edgetest.Wait(t, "the service", svc.Started())
	srv := httptest.NewServer(NewHandler(svc, edge.MakeEndpoints(svc), Config{Lite: lite, Heartbeat: heartbeat, Draining: svc.Draining}))
	t.Cleanup(srv.Close)
	return &liteRig{svc: svc, deps: d, lite: lite, url: srv.URL}
}

// open subscribes to topic over a raw TCP connection and returns a reader
// of the stream's lines (after the response head).
func (r *liteRig) open(t *testing.T, topic string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, "GET /events?topic="+topic+" HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", resp, err)
	}
	return conn, br
}

// readUntil reads lines until one contains want, and returns the line
// after it.
func readUntil(t *testing.T, conn net.Conn, br *bufio.Reader, want string) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading until %q: %v", want, err)
		}
		if strings.Contains(line, want) {
			next, _ := br.ReadString('\n')
			return next
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// TestLiteServesLiveStreams: a live plain-HTTP/1 stream leaves its
// handler's goroutine for the pooled writer, which writes its events,
// heartbeats while idle, and closes it (detaching its session) when the
// client hangs up.
func TestLiteServesLiveStreams(t *testing.T) {
	ctx := context.Background()
	r := newLiteRig(t, 200*time.Millisecond)
	conn, br := r.open(t, "t")
	readUntil(t, conn, br, "event: session")
	waitFor(t, "the stream handed to the pooled writer", func() bool { return r.lite.held() == 1 })

	if _, err := r.svc.Publish(ctx, edge.PublishRequest{Principal: publisher, Topic: "t", Data: "one"}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, br, "data: one")
	readUntil(t, conn, br, ":") // a heartbeat after 200 ms idle

	conn.Close()
	waitFor(t, "the hung-up stream closed", func() bool { return r.lite.held() == 0 })
}

// TestLiteDrains: a drain ends the pooled writer's streams with a retry
// line (when to come back), and the session's position is recorded.
func TestLiteDrains(t *testing.T) {
	ctx := context.Background()
	r := newLiteRig(t, time.Minute)
	conn, br := r.open(t, "t")
	var s struct{ Session string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(readUntil(t, conn, br, "event: session"), "data: ")), &s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream handed to the pooled writer", func() bool { return r.lite.held() == 1 })
	if _, err := r.svc.Publish(ctx, edge.PublishRequest{Principal: publisher, Topic: "t", Data: "one"}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, br, "data: one")
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.svc.Drain(dctx, 0); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, br, "retry: ")
	if _, err := br.ReadString('\n'); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if r.lite.held() != 0 {
		t.Fatal("a drained stream is still held")
	}
	if rec, _, err := r.deps.Log.GetSession(ctx, s.Session); err != nil || rec.Claim != "" || rec.Position != 1 {
		t.Fatalf("session record %+v (%v), want detached at 1", rec, err)
	}
}

// publisher may publish anywhere (as the static publish token does).
var publisher = edge.Principal{Publish: auth.All()}
