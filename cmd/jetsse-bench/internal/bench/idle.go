package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// IdleParams configure an idle run.
type IdleParams struct {
	// Ns are the session counts to measure at, ascending; sessions are
	// added to reach each one in turn, over one baseline.
	Ns []int `json:"-"`
	// Settle is how long to wait before each memory reading (the server
	// may finish allocating lazily).
	Settle time.Duration `json:"-"`
}

// IdleResult is the measurement at one session count.
type IdleResult struct {
	Header
	Params struct {
		N       int     `json:"n"`
		SettleS float64 `json:"settle_s"`
	} `json:"params"`
	Topic string `json:"topic"`

	Sessions       int64   `json:"sessions"` // attached
	ConnectS       float64 `json:"connect_s"`
	BaselineRSSKiB uint64  `json:"baseline_rss_kib"` // with 0 sessions
	RSSKiB         uint64  `json:"rss_kib"`
	KiBPerSession  float64 `json:"kib_per_session"`
	// ServerCPUS is the server's CPU over the settle window at N
	// (heartbeats and housekeeping).
	ServerCPUS float64 `json:"server_cpu_s"`
	ConnErrors int64   `json:"connect_errors"`
	HTTPErrors int64   `json:"http_errors"`
}

// Idle measures the server's resident memory with no sessions and with
// each of p.Ns idle sessions attached to one topic (on which nothing is
// published). Run it against a freshly started server: a Go process keeps
// memory it used before.
func Idle(ctx context.Context, env *Env, p IdleParams) ([]*IdleResult, error) {
	if !env.Procs.Enabled() {
		return nil, errors.New("idle needs the server's --pid")
	}
	ns := slices.Clone(p.Ns)
	slices.Sort(ns)
	if len(ns) == 0 || ns[0] <= 0 {
		return nil, errors.New("idle needs n > 0")
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	topic := RunTopic("idle")
	fleet, err := NewFleet(FleetConfig{SSE: env.SSE, Reconnect: true, MaxRetries: 3})
	if err != nil {
		return nil, err
	}
	subCtx, stopSubs := context.WithCancel(ctx)
	defer func() { stopSubs(); fleet.Wait() }()

	var target atomic.Int64 // the N being measured, for progress lines
	stopProgress := env.startProgress(func() string {
		rss, _ := env.Procs.RSSKiB()
		n := target.Load()
		if n == 0 {
			return fmt.Sprintf("idle baseline rss=%dKiB", rss)
		}
		return fmt.Sprintf("idle N=%d attached=%d rss=%dKiB errors=%d",
			n, fleet.Ready.Load(), rss, fleet.ConnErrors.Load()+fleet.HTTPErrors.Load())
	})
	defer stopProgress()

	settle := func() (float64, error) {
		c0, err := env.Procs.CPUSeconds()
		if err != nil {
			return 0, err
		}
		if p.Settle > 0 {
			t := time.NewTimer(p.Settle)
			select {
			case <-ctx.Done():
				t.Stop()
				return 0, ctx.Err()
			case <-t.C:
			}
		}
		c1, err := env.Procs.CPUSeconds()
		return c1 - c0, err
	}
	if _, err := settle(); err != nil {
		return nil, err
	}
	base, err := env.Procs.RSSKiB()
	if err != nil {
		return nil, err
	}

	var out []*IdleResult
	var clients []*Client
	for _, n := range ns {
		target.Store(int64(n))
		res := &IdleResult{Header: env.header("idle"), Topic: topic, BaselineRSSKiB: base}
		res.Params.N, res.Params.SettleS = n, p.Settle.Seconds()
		for i := len(clients); i < n; i++ {
			c := fleet.NewClient(i, topic)
			c.PresentID, c.PresentToken = true, TokenHeader
			clients = append(clients, c)
			fleet.Start(subCtx, c)
		}
		if err := fleet.WaitFor(ctx, 100*time.Millisecond, func() bool {
			return fleet.Ready.Load()+fleet.Failed.Load() >= int64(n)
		}); err != nil {
			return out, fmt.Errorf("attaching %d sessions (%d attached): %w", n, fleet.Ready.Load(), err)
		}
		res.ConnectS = secs(time.Since(res.Started))
		cpu, err := settle()
		if err != nil {
			return out, err
		}
		rss, err := env.Procs.RSSKiB()
		if err != nil {
			return out, err
		}
		res.Sessions = fleet.Ready.Load()
		res.RSSKiB, res.ServerCPUS = rss, round3(cpu)
		if res.Sessions > 0 {
			res.KiBPerSession = round3((float64(rss) - float64(base)) / float64(res.Sessions))
		}
		res.ConnErrors, res.HTTPErrors = fleet.ConnErrors.Load(), fleet.HTTPErrors.Load()
		res.addErrors(fleet.Errors())
		res.finish(res.Sessions == int64(n))
		out = append(out, res)
	}
	return out, nil
}
