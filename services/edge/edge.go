package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/session"
	"github.com/jetsse/jetsse/pkg/sse"
	"github.com/jetsse/jetsse/pkg/topic"
)

// Store is what the edge needs of JetStream (pkg/eventlog).
type Store interface {
	sessionStore
	Publish(ctx context.Context, topic, eventType string, data []byte, msgID string) (uint64, error)
	State(ctx context.Context) (eventlog.StreamState, error)
	FirstStored(ctx context.Context) (eventlog.First, error)
	Present(ctx context.Context) error
	Ensure(ctx context.Context) (eventlog.Stores, error)
	WatchChanges(ctx context.Context, fn func(eventlog.Change)) error
	StoredSession(ctx context.Context, id string) (eventlog.Session, error)
	ReadBatch(ctx context.Context, after uint64, filter string, max, maxBytes int) ([]eventlog.Msg, bool, error)
	Claim(ctx context.Context, id string, r eventlog.Record) (uint64, error)
	WatchClaims(ctx context.Context, ready func(), fn func(eventlog.ClaimEvent)) error
	Subject(topic string) string
	Topic(subject string) string
}

var _ Store = (*eventlog.Log)(nil)

// Live is the node's live path (pkg/fanout).
type Live interface {
	Subscribe(topics *topic.Set, after uint64, cfg fanout.SubConfig, t fanout.Trust) (*fanout.Sub, []*fanout.Event, bool, error)
	Observe(v fanout.View, epoch uint64)
	Epoch() uint64
	Suspect()
	Last() uint64
	CoverStart() uint64
	Ready() <-chan struct{}
	Running() bool
	WaitRunning(ctx context.Context) error
}

var _ Live = (*fanout.Hub)(nil)

// viewOf is what the live path needs to know of the stream's state.
func viewOf(s eventlog.StreamState) fanout.View {
	return fanout.View{First: s.FirstSeq, Last: s.LastSeq, Contiguous: s.Contiguous, Created: s.Created}
}

// Config wires a Service.
type Config struct {
	Store        Store
	Live         Live
	Keys         *session.Keyring
	PublishToken string
	// NodeID distinguishes this node's fence claims; unique per process.
	NodeID string
	Limits Limits
	// SessionTTL is how long a detached session survives.
	SessionTTL time.Duration
	// CheckpointInterval is how often an attached session's position is
	// recorded while it changes (default 5s).
	CheckpointInterval time.Duration
	// CheckpointRate bounds those writes per second for the whole node
	// (default 200); with many sessions, each is recorded less often.
	CheckpointRate int
	// StoreCheck is how often the stream and the session bucket are checked
	// (and made again if an operator deleted them) when no advisory says so
	// sooner (default 2s); ChangeDelay is how long after an advisory they
	// are checked (default 250ms: the server may still be carrying the
	// change out).
	StoreCheck  time.Duration
	ChangeDelay time.Duration
	Metrics    *Metrics
	Logger     *slog.Logger
	Random     io.Reader        // default crypto/rand.Reader
	Now        func() time.Time // default time.Now
}

// edge implements Service.
type edge struct {
	cfg     Config
	store   Store
	live    Live
	metrics *Metrics
	logger  *slog.Logger
	reg     *registry
	keeper  *keeper
	topics  *topicSets

	conns    atomic.Uint64
	draining atomic.Bool
	streams  sync.WaitGroup

	// Health: the fence watch runs, the stores were found present.
	started     chan struct{} // closed once fencing runs and the stores were found
	startedOnce sync.Once
	fenceUp     atomic.Bool
	storesUp    atomic.Bool
	fenceMu     sync.Mutex
	fenceCancel context.CancelFunc

	delivered     atomic.Uint64
	replayedCache atomic.Uint64
	replayedJS    atomic.Uint64
}

// NewService returns the edge service. Run must be running for sessions to
// be fenced and their positions recorded.
func NewService(cfg Config) (*Edge, error) {
	if cfg.Store == nil || cfg.Live == nil || cfg.Keys == nil {
		return nil, errors.New("edge: Store, Live and Keys are required")
	}
	if cfg.NodeID == "" {
		return nil, errors.New("edge: NodeID is required")
	}
	cfg.Limits.setDefaults()
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 5 * time.Minute
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = 5 * time.Second
	}
	if cfg.CheckpointRate <= 0 {
		cfg.CheckpointRate = 200
	}
	if cfg.StoreCheck <= 0 {
		cfg.StoreCheck = 2 * time.Second
	}
	if cfg.ChangeDelay <= 0 {
		cfg.ChangeDelay = 250 * time.Millisecond
	}
	if cfg.Metrics == nil {
		cfg.Metrics = DiscardMetrics()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &edge{
		cfg: cfg, store: cfg.Store, live: cfg.Live, metrics: cfg.Metrics, logger: cfg.Logger,
		reg:     newRegistry(cfg.NodeID),
		topics:  newTopicSets(topic.Limits{MaxTopics: cfg.Limits.MaxTopics, MaxLen: cfg.Limits.MaxTopicLen}, cfg.Metrics.TopicSets),
		started: make(chan struct{}),
	}
	e.keeper = newKeeper(cfg.Store, e.reg, cfg.CheckpointInterval, cfg.SessionTTL, cfg.CheckpointRate, cfg.Metrics, cfg.Logger, cfg.Now)
	return &Edge{e}, nil
}

// Edge is the running edge service: the Service plus the background work
// (Run) and shutdown (Drain) that the process wires as actors.
type Edge struct{ *edge }

var _ Service = (*Edge)(nil)

// Run fences sessions across nodes, records their positions, and keeps the
// stream and the session bucket present (making either again if an
// operator deleted it) until ctx ends.
func (e *edge) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); e.fence(ctx) }()
	go func() { defer wg.Done(); _ = e.keeper.run(ctx) }()
	go func() { defer wg.Done(); e.supervise(ctx) }()
	wg.Wait()
	e.FlushCounters()
	return nil
}

// fence watches the session records of every node (see registry.observe)
// until ctx ends, starting the watch again when it fails or when the bucket
// was made again (restartFence).
func (e *edge) fence(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		e.fenceMu.Lock()
		e.fenceCancel = cancel
		e.fenceMu.Unlock()
		err := e.store.WatchClaims(wctx, func() {
			e.fenceUp.Store(true)
			e.markStarted()
		}, e.reg.observe)
		e.fenceUp.Store(false)
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

// restartFence makes the fence watch start over (on a bucket made again).
func (e *edge) restartFence() {
	e.fenceMu.Lock()
	defer e.fenceMu.Unlock()
	if e.fenceCancel != nil {
		e.fenceCancel()
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
	var known eventlog.Stores
	failures := 0
	warn := rate.Sometimes{Interval: 30 * time.Second}
	check := func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := e.store.Ensure(cctx)
		if err != nil {
			e.storesUp.Store(false)
			// One failure can be a store being deleted under the request;
			// failures in a row are worth a warning.
			if failures++; failures > 1 && ctx.Err() == nil {
				warn.Do(func() {
					e.logger.Warn("the stream or the session bucket cannot be checked", "err", err, "failures", failures)
				})
			}
			return
		}
		failures = 0
		if st.RecreatedStream {
			e.metrics.StoreRecreated.With("store", "stream").Add(1)
			e.logger.Warn("the event stream was deleted; made it again with the configured limits (connected clients are told to reconnect)")
		}
		if st.RecreatedBucket {
			e.metrics.StoreRecreated.With("store", "bucket").Add(1)
			e.logger.Warn("the session bucket was deleted; made it again (attached sessions are recorded again; detached ones resume from their consumers)")
		}
		if !known.Bucket.IsZero() && !st.Bucket.Equal(known.Bucket) {
			e.bucketRecreated(cctx)
		}
		known = st
		e.storesUp.Store(true)
		e.markStarted()
		epoch := e.live.Epoch()
		if state, err := e.store.State(cctx); err == nil {
			// Trims the cache to the stream, confirms (or not) that it has
			// no hole; restarts the live path on a stream made again.
			e.live.Observe(viewOf(state), epoch)
		}
	}
	check()
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
			check()
		case <-tick.C:
			check()
		}
	}
}

// bucketRecreated records this node's attached sessions again in a bucket
// that was made again, and restarts the fence watch on it.
func (e *edge) bucketRecreated(ctx context.Context) {
	e.keeper.bucketRecreated()
	e.reg.each(func(st *Stream) {
		rev, err := e.store.Claim(ctx, st.sessionID, st.record(st.ackedPosition()))
		if err != nil {
			e.logger.Warn("recording an attached session in the new bucket", "session", st.sessionID, "err", err)
			return
		}
		e.reg.reclaimed(st, rev)
	})
	e.restartFence()
}

// FlushCounters adds the per-delivery counts, kept in plain atomics on the
// hot path, to their metrics. Call it before the metrics are read.
func (e *edge) FlushCounters() {
	if n := e.delivered.Swap(0); n > 0 {
		e.metrics.EventsDelivered.Add(float64(n))
	}
	if n := e.replayedCache.Swap(0); n > 0 {
		e.metrics.EventsReplayed.With("source", "cache").Add(float64(n))
	}
	if n := e.replayedJS.Swap(0); n > 0 {
		e.metrics.EventsReplayed.With("source", "jetstream").Add(float64(n))
	}
}

// Drain stops taking new requests (they get ErrDraining), ends every
// connection at a random moment within window so clients do not all
// reconnect at once, waits for them to close, and records every session's
// position. It returns when that is done or ctx ends.
func (e *edge) Drain(ctx context.Context, window time.Duration) error {
	e.draining.Store(true)
	var timers []*time.Timer
	e.reg.each(func(st *Stream) {
		d := time.Duration(0)
		if window > 0 {
			d = mrand.N(window)
		}
		timers = append(timers, time.AfterFunc(d, st.drain))
	})
	done := make(chan struct{})
	go func() { e.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, t := range timers {
			t.Stop()
		}
		e.reg.each(func(st *Stream) { st.drain() })
		<-done
	}
	e.FlushCounters()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return e.keeper.flush(fctx)
}

// Started is closed once the service first runs: sessions are fenced and
// the stream and the session bucket were found (it is then ready as far as
// it is concerned).
func (e *edge) Started() <-chan struct{} { return e.started }

func (e *edge) markStarted() {
	if e.fenceUp.Load() && e.storesUp.Load() {
		e.startedOnce.Do(func() { close(e.started) })
	}
}

// Draining reports whether Drain was called.
func (e *edge) Draining() bool { return e.draining.Load() }

// Ready implements Service: nil exactly while this node can serve, that is
// not draining, reading the stream, fencing sessions, and with the stream
// and the session bucket present.
func (e *edge) Ready(ctx context.Context) error {
	if e.draining.Load() {
		return ErrDraining
	}
	if !e.live.Running() {
		return fmt.Errorf("%w: live path not running", ErrNotReady)
	}
	if !e.fenceUp.Load() {
		return fmt.Errorf("%w: session fencing not running", ErrNotReady)
	}
	if !e.storesUp.Load() {
		return fmt.Errorf("%w: the stream or the session bucket is missing", ErrNotReady)
	}
	if err := e.store.Present(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Publish implements Service.
func (e *edge) Publish(ctx context.Context, req PublishRequest) (PublishResponse, error) {
	if e.draining.Load() {
		return PublishResponse{}, ErrDraining
	}
	if err := topic.Validate(req.Topic, false, e.cfg.Limits.MaxTopicLen); err != nil {
		return PublishResponse{}, inputError("topic", err)
	}
	if err := validateLabel(req.Event, e.cfg.Limits.MaxEventLen); err != nil {
		return PublishResponse{}, inputError("event", err)
	}
	if IsControlType(req.Event) {
		return PublishResponse{}, inputError("event", fmt.Errorf("%q is reserved for jetsse's control events", req.Event))
	}
	if err := validateLabel(req.ID, 256); err != nil {
		return PublishResponse{}, inputError("msg_id", err)
	}
	seq, err := e.store.Publish(ctx, req.Topic, req.Event, []byte(req.Data), req.ID)
	switch {
	case err == nil:
	case errors.Is(err, eventlog.ErrTooLarge):
		return PublishResponse{}, ErrTooLarge
	default:
		e.logger.Warn("publish failed", "topic", req.Topic, "err", err)
		return PublishResponse{}, ErrUnavailable
	}
	e.metrics.EventsPublished.Add(1)
	return PublishResponse{ID: strconv.FormatUint(seq, 10)}, nil
}

// validateLabel accepts "" or printable UTF-8 of at most max bytes without
// control or format characters (so it can never break an SSE field).
func validateLabel(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return errors.New("contains a control or format character")
		}
	}
	return nil
}

// localPosition returns the position this node holds for a session: its
// attached connection's, or its detachment's not yet stored.
func (e *edge) localPosition(id string) (pos uint64, ok bool) {
	e.reg.locked(id, func(st *Stream) {
		if st != nil {
			pos, ok = st.ackedPosition(), true
		} else {
			pos, ok = e.keeper.pendingPosition(id)
		}
	})
	return pos, ok
}

// Subscribe implements Service: it resolves the session (resume it, or
// create one), the position the connection starts after (Last-Event-ID,
// else the session's stored position, else live), whether events after it
// left the stream (gap), and claims the session for this connection. The
// request is validated in full before anything is kept for it.
func (e *edge) Subscribe(ctx context.Context, req SubscribeRequest) (*Stream, error) {
	if e.draining.Load() {
		return nil, ErrDraining
	}
	if !e.live.Running() {
		// Until the live path knows where it starts, it cannot tell which
		// positions its cache covers.
		return nil, fmt.Errorf("%w: live path starting", ErrNotReady)
	}
	var lastID uint64
	if req.HasLastEventID {
		var err error
		if lastID, err = sse.ParseLastEventID(req.LastEventID); err != nil {
			return nil, inputError("Last-Event-ID", err)
		}
	}
	topics, release, err := e.topics.acquire(req.Topics)
	if err != nil {
		return nil, inputError("topic", err)
	}
	attached := false
	defer func() {
		if !attached {
			release()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()

	// Where the stream starts now (everything before was evicted), read
	// while the session is looked up, for any connection that may start
	// before the live path's last event.
	var first chan firstStored
	if req.HasLastEventID || req.Token != "" {
		first = make(chan firstStored, 1)
		go func() {
			f, err := e.store.FirstStored(ctx)
			first <- firstStored{f, err}
		}()
		defer func() {
			if first != nil {
				<-first
			}
		}()
	}
	sess, err := e.resolveSession(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	position, live := sess.position, false
	switch {
	case req.HasLastEventID:
		position = lastID // the client's own position always wins
	case !sess.resumed:
		// Live only: from the last event this node's live path read (every
		// event after it reaches the connection through the live path).
		position, live = e.live.Last(), true
	}
	startAfter := ""
	var (
		gap   *Gap
		trust fanout.Trust
	)
	if !live {
		startAfter = formatID(position)
		f := <-first
		first = nil
		if gap, position, trust, err = e.startAfter(ctx, position, f); err != nil {
			return nil, err
		}
	}
	if !sess.resumed {
		sid, err := session.NewID(e.cfg.Random)
		if err != nil {
			return nil, err
		}
		sess.id = sid.String()
		e.metrics.SessionsCreated.Add(1)
	} else {
		e.metrics.SessionsResumed.Add(1)
	}
	if gap != nil {
		e.metrics.Gaps.Add(1)
	}
	sid, _ := session.ParseID(sess.id)

	st := &Stream{
		Session: SessionInfo{
			ID: sess.id, Resumed: sess.resumed, LastEventID: startAfter,
			Token: e.cfg.Keys.Sign(sid), Gap: gap,
		},
		svc:         e,
		sessionID:   sess.id,
		owner:       e.cfg.NodeID + "/" + strconv.FormatUint(e.conns.Add(1), 10),
		topics:      topics,
		release:     release,
		pos:         position,
		trust:       trust,
		created:     sess.created,
		began:       e.cfg.Now(),
		overlapping: topics.Overlapping(),
		takeoverCh:  make(chan struct{}),
		drainCh:     make(chan struct{}),
	}
	if ts := topics.Topics(); len(ts) == 1 {
		st.filter = e.store.Subject(ts[0])
	}
	st.delivered.Store(position)
	st.recorded.Store(position)
	st.acks = newAckTracker(position, e.cfg.Now)
	st.lastWrite.Store(e.cfg.Now().UnixNano())

	e.streams.Add(1)
	e.metrics.Connections.Add(1)
	attached = true // Close releases the topics from here on
	e.reg.attach(st)
	rev, err := e.store.Claim(ctx, sess.id, st.record(position))
	if err != nil {
		st.Close()
		e.logger.Warn("claiming session", "session", sess.id, "err", err)
		return nil, ErrUnavailable
	}
	e.keeper.attached(sess.id, sess.resumed)
	e.reg.claimed(st, rev)
	return st, nil
}

// resolved is a connection's session before it is claimed.
type resolved struct {
	id       string // "" until a new session gets its ID
	resumed  bool   // the token named a session that still exists
	position uint64 // the session's position (if resumed)
	created  time.Time
}

// resolveSession finds the session a token names, if it still exists, and
// its freshest position: the record's, or what this node knows better (a
// connection being replaced, or a detachment not stored yet). A missing or
// invalid token, or an expired session, resolves to a new session.
func (e *edge) resolveSession(ctx context.Context, token string) (resolved, error) {
	r := resolved{created: e.cfg.Now()}
	if token == "" {
		return r, nil
	}
	sid, err := e.cfg.Keys.Verify(token)
	if err != nil {
		e.metrics.RejectedRequests.With("reason", "invalid_token").Add(1)
		return r, nil
	}
	id := sid.String()
	// Looked at before and after reading the record: if the session was
	// stored in between, the record read may predate that, so it is read
	// again.
	_, knownBefore := e.localPosition(id)
	rec, _, err := e.store.GetSession(ctx, id)
	localPos, known := e.localPosition(id)
	if knownBefore && !known {
		rec, _, err = e.store.GetSession(ctx, id)
	}
	if errors.Is(err, eventlog.ErrSessionNotFound) {
		// The record expired (or its bucket was made again), but a
		// detached session's consumer might outlive it: it still holds
		// the position.
		var s eventlog.Session
		if s, err = e.store.StoredSession(ctx, id); err == nil {
			rec = eventlog.Record{Position: s.Position, Created: s.Created, Topics: s.Topics}
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, eventlog.ErrSessionNotFound):
		e.metrics.SessionsExpired.Add(1)
		return r, nil
	default:
		e.logger.Warn("resuming session", "session", id, "err", err)
		return r, ErrUnavailable
	}
	r.id, r.resumed, r.position = id, true, rec.Position
	if !rec.Created.IsZero() {
		r.created = rec.Created
	}
	if known {
		r.position = max(r.position, localPos)
	}
	return r, nil
}

// firstStored is the stream's first event, as read for one connection.
type firstStored struct {
	eventlog.First
	err error
}

// startAfter checks a connection's start position against the stream as it
// is now, read after the client asked: whether events after it left the
// stream (a gap, and the position it then goes on from), and what the live
// path's cache may serve it.
//
// A position at or behind the live path's last event is checked against f,
// the first event the stream holds (one direct get, shared by concurrent
// connections, and not held up in a reconnect storm the way STREAM.INFO
// is): below it, the events were evicted or purged. The cache serves the
// rest while the live path knows the stream has no hole in its middle (see
// fanout.Hub.Suspect: an operator's deletion or purge withdraws that the
// moment it is requested). A position beyond the last event (a stream made
// again, or a client ahead of this node), an empty stream, or a failed read
// cost a STREAM.INFO.
func (e *edge) startAfter(ctx context.Context, position uint64, f firstStored) (*Gap, uint64, fanout.Trust, error) {
	if last := e.live.Last(); position <= last && f.err == nil && f.Seq > 0 {
		if position+1 < f.Seq {
			gap := &Gap{LastEventID: formatID(position), FirstAvailable: formatID(f.Seq)}
			return gap, f.Seq - 1, fanout.Trust{First: f.Seq}, nil
		}
		return nil, position, fanout.Trust{First: f.Seq}, nil
	}
	epoch := e.live.Epoch()
	state, err := e.store.State(ctx)
	if errors.Is(err, eventlog.ErrStreamNotFound) {
		return nil, 0, fanout.Trust{}, fmt.Errorf("%w: the stream is being made again", ErrNotReady)
	}
	if err != nil {
		return nil, 0, fanout.Trust{}, ErrUnavailable
	}
	view := viewOf(state)
	e.live.Observe(view, epoch)
	gap, position := gapAfter(position, state)
	return gap, position, view.Trust(), nil
}

// gapAfter returns the gap a connection starting after position must be
// told of, and the position it then goes on from: events after position
// that the stream no longer holds (evicted, purged), or a position beyond
// the stream's end (a stream made again).
func gapAfter(position uint64, s eventlog.StreamState) (*Gap, uint64) {
	switch {
	case position > s.LastSeq:
		return &Gap{LastEventID: formatID(position), FirstAvailable: formatID(s.LastSeq + 1)}, s.LastSeq
	case position+1 < s.FirstSeq:
		return &Gap{LastEventID: formatID(position), FirstAvailable: formatID(s.FirstSeq)}, s.FirstSeq - 1
	}
	return nil, position
}
