package edge

import (
	"context"
	"sync"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"golang.org/x/time/rate"
)

// Run watches the claims of every node (one attached connection per session
// across nodes), records sessions' positions, and keeps the stream and the
// session bucket present (making either again if an operator deleted it)
// until ctx ends.
func (e *edge) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); e.watchClaims(ctx) }()
	go func() { defer wg.Done(); e.watchExpiries(ctx) }()
	go func() { defer wg.Done(); _ = e.recorder.run(ctx) }()
	go func() { defer wg.Done(); e.supervise(ctx) }()
	wg.Wait()
	e.FlushCounters()
	return nil
}

// watchClaims watches the claims of every node (see registry.observe)
// until ctx ends, starting the watch again when it fails or when the bucket
// was made again (restartClaimsWatch).
func (e *edge) watchClaims(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		e.claimsMu.Lock()
		e.claimsCancel = cancel
		e.claimsMu.Unlock()
		err := e.store.WatchClaims(wctx, func() {
			e.claimsUp.Store(true)
			e.markStarted()
		}, e.observeClaim)
		e.claimsUp.Store(false)
		restarted := wctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case restarted:
			delay = 100 * time.Millisecond
			continue
		case err != nil:
			e.logger.Warn("session watch ended; starting it again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// restartClaimsWatch makes the claims watch start over (on a bucket made
// again).
func (e *edge) restartClaimsWatch() {
	e.claimsMu.Lock()
	defer e.claimsMu.Unlock()
	if e.claimsCancel != nil {
		e.claimsCancel()
	}
}

// supervise keeps the stream and the session bucket present until ctx
// ends: it checks them every StoreCheck, and a moment after an advisory
// says an operator changed them. A missing store is
// made again with the configured settings. A stream made again (by this
// node or another) restarts the live path, whose connections are told to
// come back: their positions are now beyond the new stream's end, which
// their next connection reports as a gap. A bucket made again gets the
// records of this node's attached sessions back.
func (e *edge) supervise(ctx context.Context) {
	changes := make(chan struct{}, 1)
	var watchers sync.WaitGroup
	watchers.Add(1)
	go func() {
		defer watchers.Done()
		if err := e.store.WatchChanges(ctx, func(c eventlog.Change) {
			if c.Store == "stream" {
				// Until a state read after this says otherwise, the
				// stream may have lost events from its middle.
				e.live.Suspect()
			}
			select {
			case changes <- struct{}{}:
			default:
			}
		}); err != nil {
			e.logger.Info("not watching stream advisories; checking the stream periodically only", "err", err)
		}
	}()
	defer watchers.Wait()

	tick := time.NewTicker(e.cfg.StoreCheck)
	defer tick.Stop()
	soon := time.NewTimer(time.Hour)
	soon.Stop()
	defer soon.Stop()
	c := storeCheck{e: e, warn: rate.Sometimes{Interval: 30 * time.Second}}
	c.run(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			// Advisories and API requests are seen before the server has
			// finished carrying them out (a deleted stream's files may
			// still be going): look once it surely has.
			soon.Reset(e.cfg.ChangeDelay)
		case <-soon.C:
			c.run(ctx)
		case <-tick.C:
			c.run(ctx)
		}
	}
}

// storeCheck checks the stream and the session bucket, one check at a time
// (see supervise), remembering what it found.
type storeCheck struct {
	e        *edge
	known    eventlog.Stores
	failures int
	warn     rate.Sometimes
}

// run makes a missing store again, notices one made again by another node,
// and brings the live path's cache in line with the stream.
func (c *storeCheck) run(ctx context.Context) {
	e := c.e
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := e.store.Ensure(cctx)
	if err != nil {
		// A check nobody answered (JetStream restarting; a request lost
		// while a cluster elects its leaders, which waits out the whole
		// timeout) says nothing about the stores, and readiness then rests
		// on Present's direct gets. Only an answer marks them missing: it
		// used to keep a node unready for a whole extra check after its
		// cluster came back.
		if !eventlog.Unanswered(err) {
			e.storesUp.Store(false)
		}
		// One failure can be a store being deleted under the request;
		// failures in a row are worth a warning.
		if c.failures++; c.failures > 1 && ctx.Err() == nil {
			c.warn.Do(func() {
				e.logger.Warn("the stream or the session bucket cannot be checked", "err", err, "failures", c.failures)
			})
		}
		return
	}
	c.failures = 0
	if st.RecreatedStream {
		e.metrics.StoreRecreated.With("store", "stream").Add(1)
		e.logger.Warn("the event stream was deleted; made it again with the configured limits (connected clients are told to reconnect)")
	}
	if st.RecreatedBucket {
		e.metrics.StoreRecreated.With("store", "bucket").Add(1)
		e.logger.Warn("the session bucket was deleted; made it again (attached sessions are recorded again; detached ones resume from their consumers)")
	}
	if !c.known.Bucket.IsZero() && !st.Bucket.Equal(c.known.Bucket) {
		e.bucketRecreated(cctx)
	}
	c.known = st
	e.storesUp.Store(true)
	e.markStarted()
	epoch := e.live.Epoch()
	if state, err := e.store.State(cctx); err == nil {
		// Trims the cache to the stream, confirms (or not) that it has no
		// hole; restarts the live path on a stream made again.
		e.live.Observe(state.View(), epoch)
	}
}

// bucketRecreated claims this node's attached sessions again in a bucket
// that was made again, and restarts the claims watch on it.
func (e *edge) bucketRecreated(ctx context.Context) {
	e.recorder.bucketRecreated()
	e.detached.bucketRecreated()
	e.reg.each(func(st *Stream) {
		rev, err := e.store.Claim(ctx, st.Session.ID, st.record(st.ackedPosition()))
		if err != nil {
			e.logger.Warn("recording an attached session in the new bucket", "session", st.Session.ID, "err", err)
			return
		}
		e.reg.reclaimed(st, rev)
	})
	e.restartClaimsWatch()
}
