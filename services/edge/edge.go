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
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

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
	GetSession(ctx context.Context, id string) (eventlog.Record, uint64, error)
	StoredSession(ctx context.Context, id string) (eventlog.Session, error)
	ReadBatch(ctx context.Context, after uint64, filter string, max, maxBytes int) ([]eventlog.Msg, bool, error)
	Claim(ctx context.Context, id string, r eventlog.Record) (uint64, error)
	WatchClaims(ctx context.Context, ready chan<- struct{}, fn func(eventlog.ClaimEvent)) error
	Subject(topic string) string
	Topic(subject string) string
}

var _ Store = (*eventlog.Log)(nil)

// Live is the node's live path (pkg/fanout).
type Live interface {
	Subscribe(topics *topic.Set, after uint64, cfg fanout.SubConfig) (*fanout.Sub, []*fanout.Event, bool, error)
	Covers(position uint64) bool
	CoverStart() uint64
	Ready() <-chan struct{}
}

var _ Live = (*fanout.Hub)(nil)

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
	Metrics        *Metrics
	Logger         *slog.Logger
	Random         io.Reader        // default crypto/rand.Reader
	Now            func() time.Time // default time.Now
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

	conns    atomic.Uint64
	draining atomic.Bool
	fenced   chan struct{} // closed once the fence watch runs
	streams  sync.WaitGroup

	delivered     atomic.Uint64
	replayedCache atomic.Uint64
	replayedJS    atomic.Uint64

	// Topic sets are immutable: connections asking for the same topics
	// share one (up to maxSharedSets of them).
	setsMu sync.Mutex
	sets   map[string]*topic.Set
}

const maxSharedSets = 4096

// topicSet validates topics and returns a shared Set for them.
func (e *edge) topicSet(topics []string) (*topic.Set, error) {
	key := strings.Join(topics, "\x00")
	e.setsMu.Lock()
	s := e.sets[key]
	e.setsMu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := topic.NewSet(topics, topic.Limits{MaxTopics: e.cfg.Limits.MaxTopics, MaxLen: e.cfg.Limits.MaxTopicLen})
	if err != nil {
		return nil, err
	}
	e.setsMu.Lock()
	if len(e.sets) < maxSharedSets {
		e.sets[key] = s
	}
	e.setsMu.Unlock()
	return s, nil
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
		reg:    newRegistry(cfg.NodeID),
		fenced: make(chan struct{}),
		sets:   make(map[string]*topic.Set),
	}
	e.keeper = newKeeper(cfg.Store, e.reg, cfg.CheckpointInterval, cfg.SessionTTL, cfg.CheckpointRate, cfg.Metrics, cfg.Logger, cfg.Now)
	return &Edge{e}, nil
}

// Edge is the running edge service: the Service plus the background work
// (Run) and shutdown (Drain) that the process wires as actors.
type Edge struct{ *edge }

var _ Service = (*Edge)(nil)

// Run watches fence claims and records session positions until ctx ends.
func (e *edge) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		errc <- e.store.WatchClaims(ctx, e.fenced, e.reg.observe)
	}()
	go func() { errc <- e.keeper.run(ctx) }()
	var first error
	for range 2 {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	e.FlushCounters()
	return first
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

// Fenced is closed once the session watch runs (the service is then ready
// as far as it is concerned).
func (e *edge) Fenced() <-chan struct{} { return e.fenced }

// Draining reports whether Drain was called.
func (e *edge) Draining() bool { return e.draining.Load() }

// Ready implements Service.
func (e *edge) Ready(ctx context.Context) error {
	if e.draining.Load() {
		return ErrDraining
	}
	select {
	case <-e.live.Ready():
	default:
		return fmt.Errorf("%w: live path not running", ErrNotReady)
	}
	select {
	case <-e.fenced:
	default:
		return fmt.Errorf("%w: session fencing not running", ErrNotReady)
	}
	if _, err := e.store.State(ctx); err != nil {
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
// else the session's stored position, else live), whether history was lost
// (gap), and claims the session for this connection.
func (e *edge) Subscribe(ctx context.Context, req SubscribeRequest) (*Stream, error) {
	if e.draining.Load() {
		return nil, ErrDraining
	}
	select {
	case <-e.live.Ready():
	default:
		// Until the live path knows where it starts, it cannot tell which
		// positions its cache covers.
		return nil, fmt.Errorf("%w: live path starting", ErrNotReady)
	}
	topics, err := e.topicSet(req.Topics)
	if err != nil {
		return nil, inputError("topic", err)
	}
	var lastID uint64
	if req.HasLastEventID {
		if lastID, err = sse.ParseLastEventID(req.LastEventID); err != nil {
			return nil, inputError("Last-Event-ID", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()

	var (
		id       string
		resumed  bool
		position uint64
		live     bool
		state    *eventlog.StreamState
		now      = e.cfg.Now()
		created  = now
	)
	overlapping := topics.Overlapping()

	if req.Token != "" {
		if sid, err := e.cfg.Keys.Verify(req.Token); err == nil {
			id = sid.String()
		} else {
			e.metrics.RejectedRequests.With("reason", "invalid_token").Add(1)
		}
	}
	if id != "" {
		// This node may know a fresher position than the record: a
		// connection being replaced, or a detached one not stored yet.
		// Looked at before and after reading the record: if the session was
		// stored in between, the record read may predate that, so it is
		// read again.
		_, knownBefore := e.localPosition(id)
		rec, _, err := e.store.GetSession(ctx, id)
		localPos, known := e.localPosition(id)
		if knownBefore && !known {
			rec, _, err = e.store.GetSession(ctx, id)
		}
		if errors.Is(err, eventlog.ErrSessionNotFound) {
			// The record expired, but a detached session's consumer might
			// outlive it by a moment: it still holds the position.
			var s eventlog.Session
			if s, err = e.store.StoredSession(ctx, id); err == nil {
				rec = eventlog.Record{Position: s.Position, Created: s.Created, Topics: s.Topics}
			}
		}
		switch {
		case err == nil:
			resumed = true
			position = rec.Position
			if !rec.Created.IsZero() {
				created = rec.Created
			}
			if req.HasLastEventID {
				position = lastID
			} else if known {
				position = max(position, localPos)
			}
		case errors.Is(err, eventlog.ErrSessionNotFound):
			e.metrics.SessionsExpired.Add(1)
			id = ""
		default:
			e.logger.Warn("resuming session", "session", id, "err", err)
			return nil, ErrUnavailable
		}
	}

	var gap *Gap
	startAfter := ""
	if !resumed {
		if req.HasLastEventID {
			position = lastID
		} else {
			s, err := e.store.State(ctx)
			if err != nil {
				return nil, ErrUnavailable
			}
			state, position, live = &s, s.LastSeq, true
		}
	}
	if !live {
		startAfter = formatID(position)
		if !e.live.Covers(position) {
			if state == nil {
				s, err := e.store.State(ctx)
				if err != nil {
					return nil, ErrUnavailable
				}
				state = &s
			}
			switch {
			case position > state.LastSeq:
				gap = &Gap{LastEventID: formatID(position), FirstAvailable: formatID(state.LastSeq + 1)}
				position = state.LastSeq
			case position+1 < state.FirstSeq:
				gap = &Gap{LastEventID: formatID(position), FirstAvailable: formatID(state.FirstSeq)}
				position = state.FirstSeq - 1
			}
		}
	}
	if !resumed {
		sid, err := session.NewID(e.cfg.Random)
		if err != nil {
			return nil, err
		}
		id = sid.String()
		e.metrics.SessionsCreated.Add(1)
	} else {
		e.metrics.SessionsResumed.Add(1)
	}
	if gap != nil {
		e.metrics.Gaps.Add(1)
	}
	sid, _ := session.ParseID(id)

	st := &Stream{
		Session: SessionInfo{
			ID: id, Resumed: resumed, LastEventID: startAfter,
			Token: e.cfg.Keys.Sign(sid), Gap: gap,
		},
		svc:         e,
		sessionID:   id,
		owner:       e.cfg.NodeID + "/" + strconv.FormatUint(e.conns.Add(1), 10),
		topics:      topics,
		pos:         position,
		created:     created,
		overlapping: overlapping,
		takeoverCh:  make(chan struct{}),
		drainCh:     make(chan struct{}),
	}
	if ts := topics.Topics(); len(ts) == 1 {
		st.filter = e.store.Subject(ts[0])
	}
	st.delivered.Store(position)
	st.recorded.Store(position)
	st.acks = newAckTracker(position, e.cfg.Now)
	st.lastWrite.Store(now.UnixNano())

	e.streams.Add(1)
	e.metrics.Connections.Add(1)
	e.reg.attach(st)
	rev, err := e.store.Claim(ctx, id, st.record(position))
	if err != nil {
		st.Close()
		e.logger.Warn("claiming session", "session", id, "err", err)
		return nil, ErrUnavailable
	}
	e.keeper.attached(id, resumed)
	e.reg.claimed(st, rev)
	return st, nil
}
