package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jetsse/jetsse/internal/edgetest"
)

// lockedWriter is a buffer log lines are written to from any goroutine.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Split(strings.TrimSpace(w.b.String()), "\n")
}

// TestLogLinesNameTheirSession: every log line about a session (created,
// resumed, taken over, ended by an operator) carries its ID as "session",
// so an operator can follow one session through the logs.
func TestLogLinesNameTheirSession(t *testing.T) {
	d := edgetest.Start(t)
	out := &lockedWriter{}
	logger := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := NewService(Config{Store: d.Log, Live: d.Hub, Keys: d.Keys, NodeID: "test", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	edgetest.Run(t, e.Run)
	edgetest.Wait(t, "the service", e.Started())
	svc := LoggingMiddleware(logger)(e)
	ctx := context.Background()

	first, err := svc.Subscribe(ctx, SubscribeRequest{Principal: anyone, Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	id := first.Session.ID
	second, err := svc.Subscribe(ctx, SubscribeRequest{Principal: anyone, Topics: []string{"t"}, Token: first.Session.Token})
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	if err := e.EndSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	second.Close()

	about := 0
	for _, line := range out.lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		msg, _ := rec["msg"].(string)
		if !strings.Contains(msg, "subscribe") && !strings.Contains(msg, "session") {
			continue
		}
		about++
		if rec["session"] != id {
			t.Errorf("a line about session %s does not name it: %s", id, line)
		}
	}
	if about < 3 {
		t.Errorf("%d log lines about the session (subscribe, resume, end); logs:\n%s", about, strings.Join(out.lines(), "\n"))
	}
}
