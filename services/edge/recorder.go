package edge

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetsse/jetsse/pkg/eventlog"
)

// sessionStore is what the recorder needs of the event log.
type sessionStore interface {
	UpdateSession(ctx context.Context, id string, r eventlog.Record, rev uint64) (uint64, error)
	StoreConsumer(ctx context.Context, id string, r eventlog.Record, overlapping bool) error
	GetSession(ctx context.Context, id string) (eventlog.Record, uint64, error)
	DeleteConsumer(ctx context.Context, id string) error
}

var _ sessionStore = (*eventlog.Log)(nil)

// detachment is a session left by its connection, waiting to be stored.
type detachment struct {
	rec         eventlog.Record // Claim is the connection that left
	rev         uint64          // the record's revision when it left
	overlapping bool
	gen         uint64 // which queuing this is, so a newer one is not dropped
	state       detachState
}

// detachState is what is being done with a pending detachment.
type detachState uint8

const (
	queued    detachState = iota // waiting to be stored
	storing                      // its record is being written
	reclaimed                    // a reconnect claims the session over its revision instead
)

// recorder records sessions' positions:
//
//   - an attached session's record is rewritten every interval while its
//     position changes, and at least every TTL/3 so it does not expire, so
//     an edge crash costs duplicates, never loss;
//   - a detached session's record is marked detached at once and its
//     durable consumer (sse-<id>) is created or positioned, retried until it
//     lands; until then a reconnect to this node resumes from memory.
//   - a session attached again has its consumer removed (it only serves
//     detached sessions), in the background and at most reattachRate a
//     second, so a reconnect storm costs no API burst.
//
// Writes are compare-and-set on the record's revision: a connection that
// lost its session to a newer one never overwrites the newer one's record.
type recorder struct {
	store    sessionStore
	reg      *registry
	interval time.Duration
	refresh  time.Duration
	rate     int // record writes a second for attached sessions
	workers  int
	metrics  *Metrics
	logger   *slog.Logger
	now      func() time.Time

	limitLog atomic.Bool    // the consumer limit was logged
	warn     rate.Sometimes // at most one warning about failed writes a while

	mu          sync.Mutex
	recreatedAt time.Time // when the bucket was last made again
	pending     map[string]detachment
	gen         uint64
	wake        chan struct{}
	reattached  []string // sessions whose consumer may now go
}

// reattachRate bounds consumer deletions for re-attached sessions.
const reattachRate = 100

func newRecorder(store sessionStore, reg *registry, interval, ttl time.Duration, perSecond int, m *Metrics, logger *slog.Logger, now func() time.Time) *recorder {
	refresh := ttl / 3
	if refresh <= 0 {
		refresh = time.Second
	}
	return &recorder{
		store: store, reg: reg, interval: interval, refresh: refresh, rate: perSecond, workers: 16,
		metrics: m, logger: logger, now: now, warn: rate.Sometimes{First: 1, Interval: 30 * time.Second},
		pending: make(map[string]detachment),
		wake:    make(chan struct{}, 1),
	}
}

// detached queues a detached session for storing.
func (k *recorder) detached(id string, d detachment) {
	k.mu.Lock()
	if p, ok := k.pending[id]; !ok || d.rev >= p.rev {
		k.gen++
		d.gen = k.gen
		k.pending[id] = d
	}
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// bucketRecreated forgets the revisions of the records pending detachments
// were read at: the bucket was made again, and their records are written
// anew. For a while, a record write that finds a newer revision checks
// whether the record is there at all (see update).
func (k *recorder) bucketRecreated() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, d := range k.pending {
		d.rev = 0
		k.pending[id] = d
	}
	k.recreatedAt = k.now()
}

// update rewrites a session's record, at revision rev, for the connection
// named claim. A write that finds another revision looks at the record:
// if it still names this connection, the write that came first was this
// connection's own (a checkpoint, or the record written again into a
// bucket made again, acknowledged after rev was taken), and it writes at
// the current revision; otherwise a newer connection holds the session
// (ErrLostClaim). Soon after the bucket was made again, revisions held
// from the old bucket mean nothing (the new one counts from 1 again, so a
// stale write may even have matched one), and a record that is gone is
// written anew.
func (k *recorder) update(ctx context.Context, id, claim string, rec eventlog.Record, rev uint64) (uint64, error) {
	nrev, err := k.store.UpdateSession(ctx, id, rec, rev)
	if !errors.Is(err, eventlog.ErrLostClaim) {
		return nrev, err
	}
	cur, curRev, gerr := k.store.GetSession(ctx, id)
	switch {
	case errors.Is(gerr, eventlog.ErrSessionNotFound) && k.recentlyRecreated():
		return k.store.UpdateSession(ctx, id, rec, 0)
	case gerr == nil && cur.Claim == claim && curRev != rev:
		return k.store.UpdateSession(ctx, id, rec, curRev)
	}
	return nrev, err
}

func (k *recorder) recentlyRecreated() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.recreatedAt.IsZero() && k.now().Sub(k.recreatedAt) < 3*k.refresh
}

// reclaim hands a reconnect a session's pending detachment, so that the
// reconnect claims the session over the revision its connection left it
// at while the detachment is not stored (it stays pending, for positions,
// until attached or unclaimed is called). It reports false if there is
// none, or the bucket was made again since; a detachment being stored is
// returned without being handed over (inFlight), and a reconnect that uses
// it races that write.
func (k *recorder) reclaim(id string) (d detachment, inFlight, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	d, ok = k.pending[id]
	switch {
	case !ok || d.rev == 0 || d.state == reclaimed:
		return detachment{}, false, false
	case d.state == storing:
		return d, true, true
	}
	d.state = reclaimed
	k.pending[id] = d
	return d, false, true
}

// unclaimed queues a detachment handed to a reconnect (see reclaim) again:
// the reconnect did not claim the session.
func (k *recorder) unclaimed(id string, gen uint64) {
	k.mu.Lock()
	if d, ok := k.pending[id]; ok && d.gen == gen && d.state == reclaimed {
		d.state = queued
		k.pending[id] = d
	}
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// startStoring marks a queued detachment as being stored; it reports false
// if it is no longer the one queued (superseded, handed to a reconnect, or
// gone).
func (k *recorder) startStoring(id string, gen uint64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	d, ok := k.pending[id]
	if !ok || d.gen != gen || d.state != queued {
		return false
	}
	d.state = storing
	k.pending[id] = d
	return true
}

// pendingPosition returns a detached session's position not yet stored.
func (k *recorder) pendingPosition(id string) (uint64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.pending[id]
	return p.rec.Position, ok
}

// attached notes a session attached again: a pending detachment is
// dropped, and its consumer, if it has one, is removed later.
func (k *recorder) attached(id string, resumed bool) {
	k.mu.Lock()
	delete(k.pending, id)
	if resumed && len(k.reattached) < 1<<20 {
		k.reattached = append(k.reattached, id)
	}
	k.mu.Unlock()
}

// run works until ctx ends.
func (k *recorder) run(ctx context.Context) error {
	tick := min(k.interval, k.refresh) / 2
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
			k.sweepAttached(ctx, tick)
			k.dropConsumers(ctx, tick)
		}
	}
}

// dropConsumers removes the consumers of sessions attached again, as many
// as reattachRate allows for one tick.
func (k *recorder) dropConsumers(ctx context.Context, tick time.Duration) {
	n := max(1, int(reattachRate*tick.Seconds()))
	k.mu.Lock()
	n = min(n, len(k.reattached))
	ids := append([]string(nil), k.reattached[:n]...)
	k.reattached = k.reattached[n:]
	k.mu.Unlock()
	for _, id := range ids {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		// Only while attached: a session that left again needs it.
		if r, _, err := k.store.GetSession(cctx, id); err == nil && r.Claim != "" {
			_ = k.store.DeleteConsumer(cctx, id)
		}
		cancel()
	}
}

// flush stores every pending detachment (used when draining).
func (k *recorder) flush(ctx context.Context) error {
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

func (k *recorder) flushDetached(ctx context.Context) {
	k.mu.Lock()
	if len(k.pending) == 0 {
		k.mu.Unlock()
		return
	}
	batch := make(map[string]detachment, len(k.pending))
	for id, d := range k.pending {
		batch[id] = d
	}
	k.mu.Unlock()

	parallel(ctx, k.workers, batch, func(id string, d detachment) {
		if !k.startStoring(id, d.gen) {
			return
		}
		err := k.storeDetached(ctx, id, d)
		retry := err != nil && !errors.Is(err, eventlog.ErrLostClaim) && !errors.Is(err, eventlog.ErrTooManySessions)
		k.mu.Lock()
		if p, ok := k.pending[id]; ok && p.gen == d.gen {
			if retry { // kept pending; retried on the next tick
				p.state = queued
				k.pending[id] = p
			} else {
				delete(k.pending, id)
			}
		}
		k.mu.Unlock()
	})
}

func (k *recorder) storeDetached(ctx context.Context, id string, d detachment) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rec := d.rec
	rec.Claim = ""
	rev, err := k.update(cctx, id, d.rec.Claim, rec, d.rev)
	if err == nil {
		// The record now says detached; if this write retries, it must
		// match the new revision.
		k.mu.Lock()
		if p, ok := k.pending[id]; ok && p.gen == d.gen {
			p.rev = rev
			k.pending[id] = p
		}
		k.mu.Unlock()
		err = k.store.StoreConsumer(cctx, id, rec, d.overlapping)
	}
	k.result(id, rec.Position, err)
	return err
}

// sweepAttached rewrites the records of attached sessions that are due:
// moved on and not written for an interval, or not written for TTL/3. It
// writes at most k.rate records a second (more only if refreshing every
// session within TTL/3 needs it), the longest-unwritten first, so a node
// with many sessions spreads its writes instead of bursting: a crash then
// costs more duplicates, never an overloaded bucket.
func (k *recorder) sweepAttached(ctx context.Context, tick time.Duration) {
	now := k.now()
	var due []*Stream
	attached := 0
	k.reg.each(func(st *Stream) {
		attached++
		last := time.Unix(0, st.recordedAt.Load())
		changed := st.written.Load() > st.recorded.Load()
		if (changed && now.Sub(last) >= k.interval) || now.Sub(last) >= k.refresh {
			due = append(due, st)
		}
	})
	rate := max(float64(k.rate), 1.5*float64(attached)/k.refresh.Seconds())
	if n := max(1, int(rate*tick.Seconds())); len(due) > n {
		slices.SortFunc(due, func(a, b *Stream) int { return cmp.Compare(a.recordedAt.Load(), b.recordedAt.Load()) })
		due = due[:n]
	}
	batch := make(map[string]*Stream, len(due))
	for _, st := range due {
		batch[st.Session.ID] = st
	}
	parallel(ctx, k.workers, batch, func(id string, st *Stream) {
		pos := st.ackedPosition()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		rev, err := k.update(cctx, id, st.claim, st.record(pos), st.rev.Load())
		k.result(id, pos, err)
		switch {
		case err == nil:
			st.rev.Store(rev)
			st.recorded.Store(pos)
			st.recordedAt.Store(now.UnixNano())
		case errors.Is(err, eventlog.ErrLostClaim):
			// A newer connection holds the session (the watch will say so
			// too); this one must end.
			if k.reg.release(st) {
				st.takeOver()
			}
		}
	})
}

func (k *recorder) result(id string, pos uint64, err error) {
	switch {
	case err == nil:
		k.metrics.Checkpoints.With("result", "ok").Add(1)
	case errors.Is(err, eventlog.ErrLostClaim):
		k.metrics.Checkpoints.With("result", "taken_over").Add(1)
	case errors.Is(err, context.Canceled):
		// Shutting down: Drain stores what is pending itself.
	case errors.Is(err, eventlog.ErrTooManySessions):
		// The record holds the position, so the session resumes; only its
		// consumer is missing.
		k.metrics.Checkpoints.With("result", "no_consumer").Add(1)
		if !k.limitLog.Swap(true) {
			k.logger.Warn("--max-sessions detached sessions have consumers: more are kept as records only", "session", id)
		}
	default:
		k.metrics.Checkpoints.With("result", "error").Add(1)
		k.warn.Do(func() {
			k.logger.Warn("recording session position (retried; further failures are counted in jetsse_checkpoints_total{result=\"error\"} and logged at most every 30s)",
				"session", id, "position", pos, "err", err)
		})
	}
}

// parallel runs fn over items with at most n at once, on n goroutines
// that take the items in turn (not one goroutine per item: a record write
// grows a new goroutine's stack, which a sweep of thousands would pay each
// time).
func parallel[T any](ctx context.Context, n int, items map[string]T, fn func(string, T)) {
	type item struct {
		id string
		v  T
	}
	work := make(chan item)
	var wg sync.WaitGroup
	for range min(n, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				fn(it.id, it.v)
			}
		}()
	}
	for id, v := range items {
		if ctx.Err() != nil {
			break
		}
		work <- item{id, v}
	}
	close(work)
	wg.Wait()
}
