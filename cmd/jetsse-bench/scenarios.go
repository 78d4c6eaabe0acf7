package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/bench"
)

// Bounds on counts, so that no flag value makes a run unbounded.
const (
	maxN      = 100_000
	maxEvents = 10_000_000
)

// scenarioFlags hold every scenario's parameters; each subcommand
// registers the ones it uses.
type scenarioFlags struct {
	ns   intList
	size int // payload bytes (the common --size flag)

	k     int
	rates floatList

	settle time.Duration

	m, warmup, repeat int
	modes             string

	within    time.Duration
	stormRate float64
	present   string

	total, every, busy int

	pub bench.PublishParams
}

func (s *scenarioFlags) registerFanout(fs *flag.FlagSet, rateName string) {
	fs.IntVar(&s.k, "k", 1000, "fanout: events to publish per run")
	s.rates = floatList{100, 0}
	fs.Var(&s.rates, rateName, "fanout: publish rates in events/s, comma-separated; 0 or max = as fast as acknowledged")
}

func (s *scenarioFlags) registerIdle(fs *flag.FlagSet) {
	fs.DurationVar(&s.settle, "settle", 2*time.Second, "idle: wait this long before each memory reading")
}

func (s *scenarioFlags) registerResume(fs *flag.FlagSet) {
	fs.IntVar(&s.m, "m", 10_000, "resume: events missed while disconnected")
	fs.IntVar(&s.warmup, "warmup", 10, "resume: events received before disconnecting")
	fs.IntVar(&s.repeat, "repeat", 5, "resume and sparse: sessions measured per run")
	fs.StringVar(&s.modes, "mode", "last-event-id,id-only,cookie,header", "resume: what the reconnect presents, comma-separated: last-event-id (with the cookie, as EventSource), id-only (Last-Event-ID, no token), cookie, header")
}

func (s *scenarioFlags) registerStorm(fs *flag.FlagSet, rateName string) {
	fs.DurationVar(&s.within, "within", 5*time.Second, "storm: reconnect every session within this window")
	fs.Float64Var(&s.stormRate, rateName, 100, "storm: publish rate in events/s during the run")
	fs.StringVar(&s.present, "present", "both", "storm: reconnects present both (Last-Event-ID and Jetsse-Session), id or token")
}

func (s *scenarioFlags) registerSparse(fs *flag.FlagSet) {
	fs.IntVar(&s.total, "total", 100_000, "sparse: events pre-filled")
	fs.IntVar(&s.every, "every", 100, "sparse: one event in this many goes to the sparse topic")
	fs.IntVar(&s.busy, "busy-topics", 10, "sparse: busy topics the other events are spread over")
	if s.repeat == 0 {
		fs.IntVar(&s.repeat, "repeat", 3, "resume and sparse: sessions measured per run")
	}
}

func (s *scenarioFlags) registerPublish(fs *flag.FlagSet, workers *int) {
	fs.IntVar(&s.pub.K, "k", 50_000, "publish: events to publish")
	fs.IntVar(workers, "workers", 4, "publish: concurrent publishers (the same setting as --publish-workers)")
	fs.IntVar(&s.pub.Batch, "batch", 1, "publish: events per HTTP request (more than 1: jetsse's batch form {\"events\":[…]})")
	fs.IntVar(&s.pub.Window, "window", 0, "publish: with --publisher nats, asynchronous publishes in flight over all workers (0: each worker waits for each ack)")
	fs.IntVar(&s.pub.Warmup, "warmup", 1000, "publish: events published the same way to another topic before measuring")
	fs.StringVar(&s.pub.Verify, "verify", "stream", "publish: stream (count what --stream holds on the run's topic, over --nats) or acks (trust the acknowledgements, for peers)")
	fs.StringVar(&s.pub.Stream, "stream", "EVENTS", "publish: the JetStream stream --verify stream reads")
}

func (s *scenarioFlags) validate() error {
	if len(s.ns) == 0 || slices.Max(s.ns) > maxN {
		return fmt.Errorf("--n must be in [1, %d]", maxN)
	}
	for _, v := range []int{s.k, s.m, s.total, s.pub.K, s.pub.Warmup} {
		if v > maxEvents {
			return fmt.Errorf("event counts are limited to %d", maxEvents)
		}
	}
	if s.repeat > 1000 {
		return errors.New("--repeat is limited to 1000")
	}
	return nil
}

// run runs cmd's scenario(s), handing each result to emit as it is ready.
func (s *scenarioFlags) run(ctx context.Context, cmd string, env *bench.Env, emit func(any) error) error {
	all := cmd == "all"
	// Idle first: it needs a server that has not yet held other sessions.
	if cmd == "idle" || all {
		rs, err := bench.Idle(ctx, env, bench.IdleParams{Ns: s.ns, Settle: s.settle})
		for _, r := range rs {
			if err := emit(r); err != nil {
				return err
			}
		}
		if err != nil {
			return fmt.Errorf("idle: %w", err)
		}
	}
	if cmd == "fanout" || all {
		for _, n := range s.ns {
			for _, rate := range s.rates {
				r, err := bench.Fanout(ctx, env, bench.FanoutParams{N: n, K: s.k, Rate: rate, Size: s.size})
				if err != nil {
					return fmt.Errorf("fanout N=%d: %w", n, err)
				}
				if err := emit(r); err != nil {
					return err
				}
			}
		}
	}
	if cmd == "resume" || all {
		for mode := range strings.SplitSeq(s.modes, ",") {
			r, err := bench.Resume(ctx, env, bench.ResumeParams{
				M: s.m, Warmup: s.warmup, Mode: strings.TrimSpace(mode), Repeat: s.repeat, Size: s.size,
			})
			if err != nil {
				return fmt.Errorf("resume %s: %w", mode, err)
			}
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	if cmd == "sparse" || all {
		r, err := bench.Sparse(ctx, env, bench.SparseParams{
			Total: s.total, Every: s.every, BusyTopics: s.busy, Repeat: s.repeat, Size: s.size,
		})
		if err != nil {
			return fmt.Errorf("sparse: %w", err)
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	if cmd == "publish" {
		r, err := bench.Publish(ctx, env, s.pub)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	if cmd == "storm" || all {
		for _, n := range s.ns {
			r, err := bench.Storm(ctx, env, bench.StormParams{
				N: n, Within: s.within, Rate: s.stormRate, Present: s.present, Size: s.size,
			})
			if err != nil {
				return fmt.Errorf("storm N=%d: %w", n, err)
			}
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	return nil
}
