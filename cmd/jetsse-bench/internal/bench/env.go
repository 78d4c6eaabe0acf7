package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"
)

// PublishConfig says how scenarios publish.
type PublishConfig struct {
	// Via is "nats" (JetStream publish) or "http" (POST to HTTP.URL).
	Via string
	// NATSURL and Prefix: topic t is published to subject <Prefix>.t.
	NATSURL string
	Prefix  string
	// MaxInFlight bounds unacknowledged NATS publishes.
	MaxInFlight int
	HTTP        HTTPPublishConfig
}

// Env is what every scenario needs: where the server is, how to publish,
// what to measure and where progress goes. Scenarios only read it.
type Env struct {
	// Label names the server under test in results and charts.
	Label   string
	SSE     SSEConfig
	Publish PublishConfig
	// Procs are the server's processes, for CPU and memory.
	Procs Procs
	// Progress receives a status line every second (nil: none).
	Progress io.Writer
	// Timeout bounds each scenario run.
	Timeout time.Duration
	// Drain is how long a run waits for deliveries that make no progress
	// before it gives up and counts what is missing as lost.
	Drain time.Duration
}

// NewPublisher returns the configured publisher, recording into l.
func (e *Env) NewPublisher(l *Ledger) (Publisher, error) {
	switch e.Publish.Via {
	case "nats", "":
		return NewNATSPublisher(e.Publish.NATSURL, e.Publish.Prefix, e.Publish.MaxInFlight, l)
	case "http":
		return NewHTTPPublisher(e.Publish.HTTP, l)
	}
	return nil, fmt.Errorf("publisher %q is not nats or http", e.Publish.Via)
}

func (e *Env) drain() time.Duration {
	if e.Drain <= 0 {
		return 5 * time.Second
	}
	return e.Drain
}

func (e *Env) target() TargetInfo {
	t := TargetInfo{
		SSEURL: e.SSE.URL, ResumeURL: e.SSE.ResumeURL, Attach: e.SSE.Attach.String(),
		Publisher: e.Publish.Via, PIDs: e.Procs.PIDs, Seq: e.SSE.Seq.String(),
	}
	if t.Publisher == "" {
		t.Publisher = "nats"
	}
	if t.Publisher == "nats" {
		t.PublishTo = e.Publish.NATSURL
	} else {
		t.PublishTo = e.Publish.HTTP.URL
	}
	return t
}

// header starts a result.
func (e *Env) header(scenario string) Header {
	return Header{Scenario: scenario, Label: e.Label, Started: time.Now().UTC(), Target: e.target()}
}

// RunTopic returns a fresh topic bench.<scenario>.<random>, so runs against
// one server never see each other's events.
func RunTopic(scenario string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "bench." + scenario + "." + hex.EncodeToString(b[:])
}

// startProgress writes status() to e.Progress every second until the
// returned stop is called; stop writes a last line and waits for the
// goroutine.
func (e *Env) startProgress(status func() string) (stop func()) {
	if e.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintln(e.Progress, status())
				return
			case <-t.C:
				fmt.Fprintln(e.Progress, status())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// sumRecv returns the new events received over clients.
func sumRecv(cs []*Client) (recv, dup uint64) {
	for _, c := range cs {
		recv += c.Recv.Load()
		dup += c.Dup.Load()
	}
	return recv, dup
}

// progressWatch reports whether deliveries stalled: it is true once the
// sum has not changed for longer than d.
type progressWatch struct {
	last    uint64
	changed time.Time
	d       time.Duration
}

func newProgressWatch(d time.Duration) *progressWatch {
	return &progressWatch{changed: time.Now(), d: d}
}

func (w *progressWatch) stalled(sum uint64) bool {
	if sum != w.last {
		w.last, w.changed = sum, time.Now()
		return false
	}
	return time.Since(w.changed) > w.d
}

func cpuNow(p Procs) (float64, error) {
	if !p.Enabled() {
		return 0, nil
	}
	return p.CPUSeconds()
}

func ptr[T any](v T) *T { return &v }

func secs(d time.Duration) float64 { return round3(d.Seconds()) }

func nanosToMs(n int64) float64 { return float64(n) / 1e6 }

// fmtRate formats an events/s rate for progress lines; 0 is "max".
func fmtRate(r float64) string {
	if r <= 0 {
		return "max"
	}
	return fmt.Sprintf("%g/s", r)
}
