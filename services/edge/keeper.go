package edge

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
)

// sessionStore is what the keeper needs of the event log.
type sessionStore interface {
	Checkpoint(ctx context.Context, id string, position uint64) error
	Touch(id string) error
}

var _ sessionStore = (*eventlog.Log)(nil)

// keeper records session positions on their consumers and keeps attached
// sessions' consumers alive:
//
//   - a detached session's position is recorded at once (retried until it
//     lands), and until then is the position a reconnect on this node
//     resumes from;
//   - an attached session's position is recorded every interval while it
//     changes, so an edge crash costs duplicates, never loss;
//   - an attached session is touched every touchEvery, so JetStream's
//     inactive threshold only removes sessions that stay detached.
type keeper struct {
	store      sessionStore
	reg        *registry
	interval   time.Duration
	touchEvery time.Duration
	workers    int
	metrics    *Metrics
	logger     *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	pending map[string]uint64 // detached session → position to record
	wake    chan struct{}
}

func newKeeper(store sessionStore, reg *registry, interval, ttl time.Duration, m *Metrics, logger *slog.Logger, now func() time.Time) *keeper {
	touch := ttl / 4
	if touch <= 0 {
		touch = time.Second
	}
	return &keeper{
		store: store, reg: reg, interval: interval, touchEvery: touch, workers: 16,
		metrics: m, logger: logger, now: now,
		pending: make(map[string]uint64),
		wake:    make(chan struct{}, 1),
	}
}

// detached queues a detached session's position for recording.
func (k *keeper) detached(id string, position uint64) {
	k.mu.Lock()
	if p, ok := k.pending[id]; !ok || position > p {
		k.pending[id] = position
	}
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// pendingPosition returns a detached session's position not yet recorded.
func (k *keeper) pendingPosition(id string) (uint64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.pending[id]
	return p, ok
}

// run works until ctx ends, then records what is still pending.
func (k *keeper) run(ctx context.Context) error {
	tick := min(k.interval, k.touchEvery) / 2
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-k.wake:
			k.flushDetached(ctx)
		case <-t.C:
			k.flushDetached(ctx)
			k.sweepAttached(ctx)
		}
	}
}

// flush records every pending position (used when draining).
func (k *keeper) flush(ctx context.Context) error {
	for {
		k.flushDetached(ctx)
		k.mu.Lock()
		n := len(k.pending)
		k.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (k *keeper) flushDetached(ctx context.Context) {
	k.mu.Lock()
	if len(k.pending) == 0 {
		k.mu.Unlock()
		return
	}
	batch := make(map[string]uint64, len(k.pending))
	for id, p := range k.pending {
		batch[id] = p
	}
	k.mu.Unlock()

	k.parallel(ctx, batch, func(id string, pos uint64) {
		err := k.checkpoint(ctx, id, pos)
		if err != nil && !errors.Is(err, eventlog.ErrSessionNotFound) && !errors.Is(err, eventlog.ErrBelowStart) {
			return // keep it pending; retried on the next tick
		}
		k.mu.Lock()
		if k.pending[id] == pos {
			delete(k.pending, id)
		}
		k.mu.Unlock()
	})
}

func (k *keeper) sweepAttached(ctx context.Context) {
	now := k.now()
	due := make(map[string]uint64)
	streams := make(map[string]*Stream)
	k.reg.each(func(st *Stream) {
		if now.Sub(time.Unix(0, st.lastTouch.Load())) >= k.touchEvery {
			if err := k.store.Touch(st.sessionID); err == nil {
				st.lastTouch.Store(now.UnixNano())
			}
		}
		d := st.delivered.Load()
		if d > st.recorded.Load() && now.Sub(time.Unix(0, st.lastCheckpoint.Load())) >= k.interval {
			due[st.sessionID] = d
			streams[st.sessionID] = st
		}
	})
	k.parallel(ctx, due, func(id string, pos uint64) {
		if k.checkpoint(ctx, id, pos) == nil {
			st := streams[id]
			st.recorded.Store(pos)
			st.lastCheckpoint.Store(now.UnixNano())
		}
	})
}

func (k *keeper) checkpoint(ctx context.Context, id string, pos uint64) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := k.store.Checkpoint(cctx, id, pos)
	switch {
	case err == nil:
		k.metrics.Checkpoints.With("result", "ok").Add(1)
	case errors.Is(err, eventlog.ErrSessionNotFound):
		k.metrics.Checkpoints.With("result", "session_gone").Add(1)
	default:
		k.metrics.Checkpoints.With("result", "error").Add(1)
		k.logger.Warn("recording session position", "session", id, "position", pos, "err", err)
	}
	return err
}

// parallel runs fn over items with at most k.workers at once.
func (k *keeper) parallel(ctx context.Context, items map[string]uint64, fn func(string, uint64)) {
	sem := make(chan struct{}, k.workers)
	var wg sync.WaitGroup
	for id, pos := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(id, pos)
		}()
	}
	wg.Wait()
}
