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

	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/session"
	"github.com/jetsse/jetsse/pkg/topic"
)

// Store is what the edge needs of JetStream (pkg/eventlog).
type Store interface {
	sessionStore
	Publish(ctx context.Context, topic, eventType string, data []byte, msgID string) (uint64, error)
	PublishBatch(ctx context.Context, events []eventlog.Event) ([]eventlog.Published, error)
	State(ctx context.Context) (eventlog.StreamState, error)
	FirstStored(ctx context.Context) (eventlog.First, error)
	Present(ctx context.Context) error
	Ensure(ctx context.Context) (eventlog.Stores, error)
	WatchChanges(ctx context.Context, fn func(eventlog.Change)) error
	Consumer(ctx context.Context, id string) (eventlog.ConsumerState, error)
	ReadBatch(ctx context.Context, after uint64, filter string, max, maxBytes int) ([]eventlog.Msg, bool, error)
	Claim(ctx context.Context, id string, r eventlog.Record) (uint64, error)
	WatchClaims(ctx context.Context, ready func(), fn func(eventlog.ClaimEvent)) error
	WatchExpiries(ctx context.Context, fn func(id string)) error
	Session(ctx context.Context, id string) (eventlog.SessionEntry, error)
	Sessions(ctx context.Context) ([]eventlog.SessionEntry, error)
	EndSession(ctx context.Context, id string) (eventlog.Record, error)
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

// Config wires a Service; zero durations and rates take the defaults of
// internal/defaults.
type Config struct {
	Store Store
	Live  Live
	Keys  *session.Keyring
	// NodeID names this node in the claims it writes; unique per process.
	NodeID string
	Limits Limits
	// Admission bounds connections and new sessions per node and client.
	Admission Admission
	// SessionTTL is how long a detached session survives.
	SessionTTL time.Duration
	// CheckpointInterval is how often an attached session's position is
	// recorded while it changes.
	CheckpointInterval time.Duration
	// CheckpointRate bounds those writes per second for the whole node;
	// with many sessions, each is recorded less often.
	CheckpointRate int
	// StoreCheck is how often the stream and the session bucket are checked
	// (and made again if an operator deleted them) when no advisory says so
	// sooner; ChangeDelay is how long after an advisory they are checked
	// (the server may still be carrying the change out).
	StoreCheck  time.Duration
	ChangeDelay time.Duration
	// Lifecycle receives the session lifecycle events (nil: none).
	Lifecycle Lifecycle
	Metrics   *Metrics
	Logger    *slog.Logger
	Random    io.Reader        // default crypto/rand.Reader
	Now       func() time.Time // default time.Now
}

// edge implements Service.
type edge struct {
	cfg      Config
	store    Store
	live     Live
	metrics  *Metrics
	logger   *slog.Logger
	reg      *registry
	recorder *recorder
	topics   *topicSets
	adm      *admission

	lifecycle Lifecycle
	detached  *detachedRecords

	conns    atomic.Uint64
	draining atomic.Bool
	streams  sync.WaitGroup

	// Health: the claims watch runs, the stores were found present.
	started      chan struct{} // closed once both first hold
	startedOnce  sync.Once
	claimsUp     atomic.Bool
	storesUp     atomic.Bool
	claimsMu     sync.Mutex
	claimsCancel context.CancelFunc

	delivered     atomic.Uint64
	replayedCache atomic.Uint64
	replayedJS    atomic.Uint64
}

// NewService returns the edge service. Run must be running for claims to be
// watched and positions recorded.
func NewService(cfg Config) (*Edge, error) {
	if cfg.Store == nil || cfg.Live == nil || cfg.Keys == nil {
		return nil, errors.New("edge: Store, Live and Keys are required")
	}
	if cfg.NodeID == "" {
		return nil, errors.New("edge: NodeID is required")
	}
	cfg.Limits.setDefaults()
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = defaults.SessionTTL
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = defaults.CheckpointInterval
	}
	if cfg.CheckpointRate <= 0 {
		cfg.CheckpointRate = defaults.CheckpointRate
	}
	if cfg.StoreCheck <= 0 {
		cfg.StoreCheck = defaults.StoreCheck
	}
	if cfg.ChangeDelay <= 0 {
		cfg.ChangeDelay = defaults.ChangeDelay
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
		adm:     newAdmission(cfg.Admission, cfg.Now),

		lifecycle: cfg.Lifecycle,
		detached:  newDetachedRecords(2 * defaults.MaxSessions),
	}
	if e.lifecycle == nil {
		e.lifecycle = discardLifecycle{}
	}
	e.recorder = newRecorder(cfg.Store, e.reg, cfg.CheckpointInterval, cfg.SessionTTL, cfg.CheckpointRate, cfg.Metrics, cfg.Logger, cfg.Now)
	return &Edge{e}, nil
}

// Edge is the running edge service: the Service plus the background work
// (Run) and shutdown (Drain) that the process wires as actors.
type Edge struct{ *edge }

var _ Service = (*Edge)(nil)

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
	return e.recorder.flush(fctx)
}

// Started is closed once the service first runs: the claims watch runs and
// the stream and the session bucket were found (it is then ready as far as
// it is concerned).
func (e *edge) Started() <-chan struct{} { return e.started }

func (e *edge) markStarted() {
	if e.claimsUp.Load() && e.storesUp.Load() {
		e.startedOnce.Do(func() { close(e.started) })
	}
}

// Draining reports whether Drain was called.
func (e *edge) Draining() bool { return e.draining.Load() }

// Ready implements Service: nil exactly while this node can serve, that is
// not draining, reading the stream, watching claims, and with the stream
// and the session bucket present.
func (e *edge) Ready(ctx context.Context) error {
	if e.draining.Load() {
		return ErrDraining
	}
	if !e.live.Running() {
		return fmt.Errorf("%w: live path not running", ErrNotReady)
	}
	if !e.claimsUp.Load() {
		return fmt.Errorf("%w: the claims watch is not running", ErrNotReady)
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
	if err := e.checkEvent(req.Principal, Event{Topic: req.Topic, Event: req.Event, Data: req.Data, MsgID: req.MsgID}, -1); err != nil {
		return PublishResponse{}, err
	}
	seq, err := e.store.Publish(ctx, req.Topic, req.Event, []byte(req.Data), req.MsgID)
	if err != nil {
		if !errors.Is(err, eventlog.ErrTooLarge) {
			e.logger.Warn("publish failed", "topic", req.Topic, "err", err)
		}
		return PublishResponse{}, e.storeError(err)
	}
	e.metrics.EventsPublished.Add(1)
	return PublishResponse{ID: strconv.FormatUint(seq, 10)}, nil
}

// PublishBatch implements Service. The events are published pipelined
// (eventlog.Log.PublishBatch): one round trip to JetStream for the batch.
func (e *edge) PublishBatch(ctx context.Context, req PublishBatchRequest) (PublishBatchResponse, error) {
	if e.draining.Load() {
		return PublishBatchResponse{}, ErrDraining
	}
	switch n := len(req.Events); {
	case n == 0:
		return PublishBatchResponse{}, inputError("events", errors.New("a batch needs at least one event"))
	case n > e.cfg.Limits.MaxBatch:
		e.metrics.LimitHits.With("limit", "batch_events").Add(1)
		return PublishBatchResponse{}, fmt.Errorf("%w: %d events in one batch, at most %d", ErrTooLarge, n, e.cfg.Limits.MaxBatch)
	}
	events := make([]eventlog.Event, len(req.Events))
	for i, ev := range req.Events {
		if err := e.checkEvent(req.Principal, ev, i); err != nil {
			return PublishBatchResponse{}, err
		}
		events[i] = eventlog.Event{Topic: ev.Topic, Type: ev.Event, Data: []byte(ev.Data), MsgID: ev.MsgID}
	}
	out, err := e.store.PublishBatch(ctx, events)
	if err != nil {
		var ee *eventlog.EventError
		if errors.As(err, &ee) && errors.Is(err, eventlog.ErrTooLarge) {
			e.metrics.LimitHits.With("limit", "event_bytes").Add(1)
			return PublishBatchResponse{}, fmt.Errorf("%w: events[%d] is larger than the stream can ever hold", ErrTooLarge, ee.Index)
		}
		e.logger.Warn("publish batch failed", "events", len(events), "err", err)
		return PublishBatchResponse{}, e.storeError(err)
	}
	resp := PublishBatchResponse{IDs: make([]string, len(out))}
	var failed []BatchFailure
	for i, p := range out {
		if p.Err != nil {
			failed = append(failed, BatchFailure{Index: i, Err: e.batchFailure(p.Err)})
			continue
		}
		resp.IDs[i] = strconv.FormatUint(p.Seq, 10)
	}
	e.metrics.EventsPublished.Add(float64(len(out) - len(failed)))
	if len(failed) > 0 {
		if !errors.Is(out[failed[0].Index].Err, eventlog.ErrTooLarge) {
			e.logger.Warn("publish batch partly failed", "events", len(out), "failed", len(failed),
				"first", failed[0].Index, "err", out[failed[0].Index].Err)
		}
		return resp, &BatchError{Failed: failed, Events: len(out)}
	}
	return resp, nil
}

// checkEvent checks one event for publishing by p: the index-th of a
// batch, whose errors name it ("events[3].topic"), or (-1) a single one.
func (e *edge) checkEvent(p Principal, ev Event, index int) error {
	inputError := func(name string, err error) error {
		if index >= 0 {
			name = fmt.Sprintf("events[%d].%s", index, name)
		}
		return &InputError{Field: name, Err: err}
	}
	if err := topic.Validate(ev.Topic, false, e.cfg.Limits.MaxTopicLen); err != nil {
		return inputError("topic", err)
	}
	if !p.Publish.Covers(ev.Topic) {
		e.metrics.RejectedRequests.With("reason", "forbidden").Add(1)
		return fmt.Errorf("%w: publishing to topic %q is not granted", ErrForbidden, ev.Topic)
	}
	if err := validateLabel(ev.Event, e.cfg.Limits.MaxEventLen); err != nil {
		return inputError("event", err)
	}
	if IsControlType(ev.Event) {
		return inputError("event", fmt.Errorf("%q is reserved for jetsse's control events", ev.Event))
	}
	if err := validateLabel(ev.MsgID, 256); err != nil {
		return inputError("msg_id", err)
	}
	return nil
}

// batchFailure says why one event of a published batch was not stored.
func (e *edge) batchFailure(err error) error {
	mapped := e.storeError(err)
	switch {
	case errors.Is(mapped, ErrTooLarge):
		return &reasonError{"the stream refused the event as too large", mapped}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &reasonError{"not acknowledged in time: it may still be stored (publish it again with the same msg_id to store it once)", mapped}
	default:
		return &reasonError{"not stored: the event store is unavailable", mapped}
	}
}

// reasonError is a domain error (err) said in other words.
type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.err }

// storeError maps a store's publish error to the service's.
func (e *edge) storeError(err error) error {
	if errors.Is(err, eventlog.ErrTooLarge) {
		e.metrics.LimitHits.With("limit", "event_bytes").Add(1)
		return ErrTooLarge
	}
	return ErrUnavailable
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
