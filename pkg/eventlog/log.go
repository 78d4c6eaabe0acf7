// Package eventlog is jetsse's JetStream layer: it provisions the event
// stream, publishes events, stores sessions as durable consumers
// ("sse-<id>": position = ack floor, expiry = InactiveThreshold), replays
// history with batched direct gets, and fences sessions across edge nodes
// with a KV bucket. It knows nothing of HTTP or SSE framing.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Header names set by publishers.
const (
	// HeaderEventType carries the SSE event type of an event.
	HeaderEventType = "Sse-Event"
	// HeaderMsgID is JetStream's de-duplication header.
	HeaderMsgID = "Nats-Msg-Id"
)

// Config describes the stream and the sessions stored in it.
type Config struct {
	Stream   string        // stream name, e.g. "EVENTS"
	Prefix   string        // subject prefix, e.g. "events"
	MaxAge   time.Duration // 0: unbounded
	MaxMsgs  int64         // 0: unbounded
	MaxBytes int64         // 0: unbounded
	Replicas int           // stream replicas (0: 1)
	// MaxSessions bounds the stream's consumers that detached sessions may
	// fill (other consumers count too: one per edge node). The stream's
	// own limit is set to it plus ReservedConsumers (nats-server 2.15 caps
	// streams at 1,000 consumers unless it is set explicitly), so edge nodes
	// and operators can always make theirs.
	MaxSessions int
	// SessionTTL is how long a detached session survives (the consumers'
	// InactiveThreshold).
	SessionTTL time.Duration
	// SessionMemory keeps session consumer state in memory: cheaper to
	// update and to shut down, but lost when the NATS server restarts.
	SessionMemory bool
	// SessionBucket names the KV bucket of session records (default
	// "jetsse_sessions").
	SessionBucket string
	// APIConcurrency bounds JetStream API requests in flight from this node
	// (default 64), far below the server's 10,000-request queue.
	APIConcurrency int
	// MaxTopicLen is the longest topic publishers may use over HTTP (default
	// 256); the stream's largest message leaves room for its subject.
	MaxTopicLen int
	// Explicit lists the limits that were given explicitly (a flag or an
	// environment variable). A stream that exists already keeps the rest as
	// it is, so what an operator changed with `nats stream edit` survives a
	// restart. A stream that is created gets every limit.
	Explicit Limit
}

// Limit names a stream setting an operator may change with the nats CLI.
type Limit uint8

// The limits of Config that Explicit can name.
const (
	LimitMaxAge Limit = 1 << iota
	LimitMaxMsgs
	LimitMaxBytes
	LimitReplicas
	LimitMaxSessions
)

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = "EVENTS"
	}
	if c.Prefix == "" {
		c.Prefix = "events"
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 100_000
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 5 * time.Minute
	}
	if c.SessionBucket == "" {
		c.SessionBucket = "jetsse_sessions"
	}
	if c.APIConcurrency <= 0 {
		c.APIConcurrency = 64
	}
	if c.MaxTopicLen <= 0 {
		c.MaxTopicLen = 256
	}
}

// ReservedConsumers is the room the stream keeps beyond MaxSessions for
// consumers that are not sessions: each edge node's live consumer, and
// operators' own.
const ReservedConsumers = 1024

// Log is the JetStream side of one edge node. It is safe for concurrent use.
type Log struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	sem chan struct{}

	// state coalesces stream state reads (see State); limits is the stream's
	// configuration as last read, for refusing events that cannot fit.
	state  coalescer[StreamState]
	first  coalescer[First]
	limits atomic.Pointer[StreamState]

	// The stream's consumer count as last read, plus the consumers this
	// node made since (see roomForSession).
	countMu sync.Mutex
	count   int
	countAt time.Time
}

// Errors returned by Log.
var (
	// ErrSessionNotFound: the session's consumer does not exist (never
	// created, or removed by the inactive threshold).
	ErrSessionNotFound = errors.New("eventlog: session not found")
	// ErrBelowStart: the requested position is below the session consumer's
	// start sequence, so it cannot be reset there.
	ErrBelowStart = errors.New("eventlog: position below the session's start")
	// ErrTooLarge: the event can never be stored: it exceeds the server's
	// largest message, the stream's largest message, or the stream's byte
	// limit.
	ErrTooLarge = errors.New("eventlog: event too large")
	// ErrUnavailable: JetStream could not be reached.
	ErrUnavailable = errors.New("eventlog: JetStream unavailable")
	// ErrStreamNotFound: the stream does not exist (an operator deleted it;
	// Ensure makes it again). It wraps ErrUnavailable.
	ErrStreamNotFound = fmt.Errorf("%w: stream not found", ErrUnavailable)
	// ErrTooManySessions: MaxSessions detached sessions have consumers; a
	// session without one keeps only its record.
	ErrTooManySessions = errors.New("eventlog: session consumer limit reached")
)

// Open provisions the stream and the session bucket, retrying until ctx
// ends while JetStream is not yet ready (a cluster still electing its
// leader). A missing stream is created with every configured limit; an
// existing one gets only the limits in cfg.Explicit, plus what the edge
// cannot work without (its subjects, direct get). The Log uses nc; the
// caller owns nc.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Log, error) {
	cfg.setDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	l := &Log{cfg: cfg, nc: nc, js: js, sem: make(chan struct{}, cfg.APIConcurrency)}
	l.state.fn, l.first.fn = l.readState, l.readFirst
	err = retry(ctx, func(ctx context.Context) error {
		if err := l.provisionStream(ctx, true); err != nil {
			return err
		}
		_, err := l.provisionBucket(ctx, true)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	return l, nil
}

// streamConfig is the stream as the configuration describes it.
func (l *Log) streamConfig() jetstream.StreamConfig {
	cfg := l.cfg
	dup := 2 * time.Minute
	if cfg.MaxAge > 0 && cfg.MaxAge < dup {
		dup = cfg.MaxAge
	}
	return jetstream.StreamConfig{
		Name:              cfg.Stream,
		Description:       "jetsse events",
		Subjects:          []string{cfg.Prefix + ".>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            cfg.MaxAge,
		MaxMsgs:           orUnlimited(cfg.MaxMsgs),
		MaxBytes:          orUnlimited(cfg.MaxBytes),
		MaxMsgSize:        l.maxMsgSize(cfg.MaxBytes),
		MaxMsgsPerSubject: -1,
		MaxConsumers:      cfg.MaxSessions + ReservedConsumers,
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		Duplicates:        dup,
		AllowDirect:       true,
	}
}

// maxMsgSize is the largest message (headers and data) a stream of
// maxBytes can hold next to its subject and the store's per-message
// overhead, so that a message that can never fit is refused by JetStream
// itself instead of being stored and evicting everything, itself included.
func (l *Log) maxMsgSize(maxBytes int64) int32 {
	if maxBytes <= 0 {
		return -1
	}
	room := maxBytes - storeOverhead - int64(len(l.cfg.Prefix)+1+l.cfg.MaxTopicLen)
	switch {
	case room < 1:
		return 1
	case room > math.MaxInt32:
		return -1
	}
	return int32(room)
}

// storeOverhead is what JetStream's file store adds to each message's
// subject, headers and data when it counts bytes against MaxBytes.
const storeOverhead = 34

// provisionStream creates the stream if it is missing. With update set, an
// existing stream gets the explicit limits and the edge's requirements.
func (l *Log) provisionStream(ctx context.Context, update bool) error {
	want := l.streamConfig()
	s, err := l.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := l.js.CreateStream(ctx, want); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("stream %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", want.Name, err)
	}
	if !update {
		return nil
	}
	cur := s.CachedInfo().Config
	next := cur
	ex := l.cfg.Explicit
	if ex&LimitMaxAge != 0 {
		next.MaxAge = want.MaxAge
		next.Duplicates = want.Duplicates
	}
	if ex&LimitMaxMsgs != 0 {
		next.MaxMsgs = want.MaxMsgs
	}
	if ex&LimitMaxBytes != 0 {
		next.MaxBytes, next.MaxMsgSize = want.MaxBytes, want.MaxMsgSize
	}
	if ex&LimitReplicas != 0 {
		next.Replicas = want.Replicas
	}
	if ex&LimitMaxSessions != 0 {
		next.MaxConsumers = want.MaxConsumers
	}
	// What the edge cannot work without.
	if !slices.Contains(next.Subjects, want.Subjects[0]) {
		next.Subjects = append(slices.Clone(next.Subjects), want.Subjects[0])
	}
	next.AllowDirect = true
	if reflect.DeepEqual(next, cur) {
		return nil
	}
	if _, err := l.js.UpdateStream(ctx, next); err != nil {
		return fmt.Errorf("stream %s: %w", want.Name, err)
	}
	return nil
}

// bucketConfig is the session bucket's stream. It is a KV bucket whose
// stream jetsse configures itself, so a single-replica bucket can persist
// asynchronously: records are rewritten often, and losing the newest to a
// power cut only repeats a few events. (JetStream refuses async persistence
// on replicated streams; those flush asynchronously unless the server
// syncs always.)
func (l *Log) bucketConfig() jetstream.StreamConfig {
	cfg := l.cfg
	kvDup := 2 * time.Minute
	if cfg.SessionTTL < kvDup {
		kvDup = cfg.SessionTTL
	}
	kvs := jetstream.StreamConfig{
		Name:              "KV_" + cfg.SessionBucket,
		Description:       "jetsse sessions: owner, position, topics; the newest connection of a session wins",
		Subjects:          []string{"$KV." + cfg.SessionBucket + ".>"},
		MaxMsgsPerSubject: 1,
		MaxBytes:          -1,
		MaxAge:            cfg.SessionTTL,
		MaxMsgSize:        -1,
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		AllowRollup:       true,
		DenyDelete:        true,
		Duplicates:        kvDup,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		AllowDirect:       true,
		Discard:           jetstream.DiscardNew,
	}
	if cfg.Replicas == 1 {
		kvs.PersistMode = jetstream.AsyncPersistMode
	}
	return kvs
}

// provisionBucket creates the session bucket if it is missing (reporting
// created) and opens it. With update set, an existing bucket's limits are
// brought to the configuration: the bucket is the edge's own state, and
// its max age must match --session-ttl.
func (l *Log) provisionBucket(ctx context.Context, update bool) (created bool, err error) {
	kvs := l.bucketConfig()
	_, err = l.js.CreateStream(ctx, kvs)
	switch {
	case err == nil:
		created = true
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		if update {
			cur, err := l.js.Stream(ctx, kvs.Name)
			if err != nil {
				return false, fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
			}
			// The persist mode of an existing bucket cannot change.
			kvs.PersistMode = cur.CachedInfo().Config.PersistMode
			if _, err := l.js.UpdateStream(ctx, kvs); err != nil {
				return false, fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
			}
		}
	default:
		return false, fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
	}
	if l.kv == nil {
		kv, err := l.js.KeyValue(ctx, l.cfg.SessionBucket)
		if err != nil {
			return created, fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
		}
		l.kv = kv
	}
	return created, nil
}

// Stores tells which of the Log's stores exist and which it made again.
type Stores struct {
	// Stream and Bucket are when the stream and the session bucket were
	// created: a different time than before means a different store (one
	// recreated, by this node or another).
	Stream, Bucket time.Time
	// RecreatedStream and RecreatedBucket are set when this call made them.
	RecreatedStream, RecreatedBucket bool
}

// Ensure makes sure the stream and the session bucket exist, creating a
// missing one with the configured settings (an operator deleted it), and
// reports their identities. It changes nothing that exists.
func (l *Log) Ensure(ctx context.Context) (Stores, error) {
	var st Stores
	err := l.api(ctx, func() error {
		s, err := l.js.Stream(ctx, l.cfg.Stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if err := l.provisionStream(ctx, false); err != nil {
				return err
			}
			st.RecreatedStream = true
			s, err = l.js.Stream(ctx, l.cfg.Stream)
		}
		if err != nil {
			return fmt.Errorf("stream %s: %w", l.cfg.Stream, err)
		}
		st.Stream = s.CachedInfo().Created
		b, err := l.js.Stream(ctx, "KV_"+l.cfg.SessionBucket)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if st.RecreatedBucket, err = l.provisionBucket(ctx, false); err != nil {
				return err
			}
			b, err = l.js.Stream(ctx, "KV_"+l.cfg.SessionBucket)
		}
		if err != nil {
			return fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
		}
		st.Bucket = b.CachedInfo().Created
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return st, nil
}

// Change is something an operator (or another edge node) did to the
// stream or the session bucket, seen by WatchChanges.
type Change struct {
	// Store is "stream" or "bucket".
	Store string
	// What is "created", "deleted" or "updated" (advisories, after the
	// fact), or "purge", "delete" (a message), "update", "remove" or
	// "create" (API requests, seen before the server carries them out).
	What string
}

// WatchChanges calls fn (which must not block) when the stream or the
// session bucket is created, deleted or updated, or when a purge, a message
// deletion, an update, a deletion or a creation is asked of the stream,
// until ctx ends. It listens to JetStream's advisories and to the API
// requests themselves: a request is seen as the server receives it, before
// it is carried out, so a caller can stop trusting what it knew of the
// stream before the change lands. A user without permission to see them
// makes it blind, never fail: callers check the stores periodically as
// well.
func (l *Log) WatchChanges(ctx context.Context, fn func(Change)) error {
	bucket := "KV_" + l.cfg.SessionBucket
	subjects := map[string]Change{
		"$JS.EVENT.ADVISORY.STREAM.CREATED." + l.cfg.Stream: {"stream", "created"},
		"$JS.EVENT.ADVISORY.STREAM.DELETED." + l.cfg.Stream: {"stream", "deleted"},
		"$JS.EVENT.ADVISORY.STREAM.UPDATED." + l.cfg.Stream: {"stream", "updated"},
		"$JS.API.STREAM.PURGE." + l.cfg.Stream:              {"stream", "purge"},
		"$JS.API.STREAM.MSG.DELETE." + l.cfg.Stream:         {"stream", "delete"},
		"$JS.API.STREAM.UPDATE." + l.cfg.Stream:             {"stream", "update"},
		"$JS.API.STREAM.DELETE." + l.cfg.Stream:             {"stream", "remove"},
		"$JS.API.STREAM.CREATE." + l.cfg.Stream:             {"stream", "create"},
		"$JS.EVENT.ADVISORY.STREAM.CREATED." + bucket:       {"bucket", "created"},
		"$JS.EVENT.ADVISORY.STREAM.DELETED." + bucket:       {"bucket", "deleted"},
	}
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	for subject, ch := range subjects {
		sub, err := l.nc.Subscribe(subject, func(*nats.Msg) { fn(ch) })
		if err != nil {
			return fmt.Errorf("%w: watch %s: %v", ErrUnavailable, subject, err)
		}
		subs = append(subs, sub)
	}
	<-ctx.Done()
	return nil
}

// Close releases the Log's resources. It does not close the connection.
func (l *Log) Close() {}

func orUnlimited(v int64) int64 {
	if v <= 0 {
		return -1
	}
	return v
}

// retry runs f until it succeeds or ctx ends, backing off up to 1s.
func retry(ctx context.Context, f func(context.Context) error) error {
	delay := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// api bounds concurrent JetStream API calls from this node.
func (l *Log) api(ctx context.Context, f func() error) error {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.sem }()
	return f()
}

// Config returns the configuration in use (with defaults filled in).
func (l *Log) Config() Config { return l.cfg }

// Subject returns the NATS subject of a topic.
func (l *Log) Subject(topic string) string { return l.cfg.Prefix + "." + topic }

// Topic returns the topic of a subject of the stream.
func (l *Log) Topic(subject string) string {
	return strings.TrimPrefix(subject, l.cfg.Prefix+".")
}

// Publish stores one event and returns its event ID (stream sequence).
// msgID, when non-empty, de-duplicates within the stream's window: a
// duplicate returns the original's sequence. An event that can never be
// stored (see ErrTooLarge) is refused before it reaches the stream.
func (l *Log) Publish(ctx context.Context, topic, eventType string, data []byte, msgID string) (uint64, error) {
	msg := nats.NewMsg(l.Subject(topic))
	msg.Data = data
	hdr := 0
	if eventType != "" {
		msg.Header.Set(HeaderEventType, eventType)
		hdr += len(HeaderEventType) + len(eventType) + 4
	}
	if msgID != "" {
		msg.Header.Set(HeaderMsgID, msgID)
		hdr += len(HeaderMsgID) + len(msgID) + 4
	}
	if hdr > 0 {
		hdr += len("NATS/1.0\r\n\r\n")
	}
	if !l.fits(msg.Subject, hdr, len(data)) {
		return 0, ErrTooLarge
	}
	ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(l.cfg.Stream))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.Is(err, nats.ErrMaxPayload) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
			return 0, ErrTooLarge
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) ||
			errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrConnectionClosed) {
			return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return 0, fmt.Errorf("eventlog: publish: %w", err)
	}
	return ack.Sequence, nil
}

// StreamState is the stream's current state and configured limits.
type StreamState struct {
	FirstSeq  uint64
	LastSeq   uint64
	Msgs      uint64
	Bytes     uint64
	Consumers int
	// Contiguous is set when the stream holds every event from FirstSeq to
	// LastSeq (nothing was removed from its middle: a deleted message, a
	// purge of one subject), and its configuration cannot remove events
	// from the middle by itself (a per-subject limit, message TTLs or
	// rollups): only an operator's request can make a hole then.
	Contiguous bool
	// Created identifies the stream: a recreated stream has another time.
	Created time.Time

	MaxMsgs    int64 // -1: unbounded
	MaxBytes   int64 // -1: unbounded
	MaxAge     time.Duration
	MaxMsgSize int32 // -1: only the server's limit
}

// State returns the stream's state, read by a STREAM.INFO request that
// started after the call: never a state older than the caller's question.
// Concurrent callers share requests: while one is in flight, those who come
// wait for the next one, so there are at most two in flight from a node
// however many connections ask. A missing stream is ErrStreamNotFound.
func (l *Log) State(ctx context.Context) (StreamState, error) {
	return l.state.do(ctx)
}

func (l *Log) readState(ctx context.Context) (StreamState, error) {
	var info *jetstream.StreamInfo
	err := l.api(ctx, func() error {
		s, err := l.js.Stream(ctx, l.cfg.Stream)
		if err != nil {
			return err
		}
		info = s.CachedInfo()
		return nil
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return StreamState{}, ErrStreamNotFound
	}
	if err != nil {
		return StreamState{}, fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
	}
	st := StreamState{
		FirstSeq:   info.State.FirstSeq,
		LastSeq:    info.State.LastSeq,
		Msgs:       info.State.Msgs,
		Bytes:      info.State.Bytes,
		Consumers:  info.State.Consumers,
		Contiguous: info.State.NumDeleted == 0 && info.Config.MaxMsgsPerSubject <= 0 && !info.Config.AllowMsgTTL && !info.Config.AllowRollup,
		Created:    info.Created,
		MaxMsgs:    info.Config.MaxMsgs,
		MaxBytes:   info.Config.MaxBytes,
		MaxAge:     info.Config.MaxAge,
		MaxMsgSize: info.Config.MaxMsgSize,
	}
	l.limits.Store(&st)
	return st, nil
}

// fits reports whether a message could be stored without exceeding the
// stream's limits as last read (the server decides in the end; this spares
// a round trip, and catches a byte limit lowered without a message size).
func (l *Log) fits(subject string, hdr, data int) bool {
	lim := l.limits.Load()
	if lim == nil {
		return true
	}
	if lim.MaxMsgSize > 0 && hdr+data > int(lim.MaxMsgSize) {
		return false
	}
	size := int64(storeOverhead + len(subject) + hdr + data)
	return lim.MaxBytes <= 0 || size <= lim.MaxBytes
}

// JetStream returns the underlying JetStream context (for the live path's
// ordered consumer).
func (l *Log) JetStream() jetstream.JetStream { return l.js }
