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
	"strings"
	"sync"
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
}

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
	// ErrTooLarge: the event exceeds the server's maximum message size.
	ErrTooLarge = errors.New("eventlog: event too large")
	// ErrUnavailable: JetStream could not be reached.
	ErrUnavailable = errors.New("eventlog: JetStream unavailable")
	// ErrTooManySessions: MaxSessions detached sessions have consumers; a
	// session without one keeps only its record.
	ErrTooManySessions = errors.New("eventlog: session consumer limit reached")
)

// Open provisions the stream (created, or updated to cfg's limits) and the
// fence bucket, retrying until ctx ends while JetStream is not yet ready (a
// cluster still electing its leader). The Log uses nc; the caller owns nc.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Log, error) {
	cfg.setDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	l := &Log{cfg: cfg, nc: nc, js: js, sem: make(chan struct{}, cfg.APIConcurrency)}

	dup := 2 * time.Minute
	if cfg.MaxAge > 0 && cfg.MaxAge < dup {
		dup = cfg.MaxAge
	}
	sc := jetstream.StreamConfig{
		Name:              cfg.Stream,
		Description:       "jetsse events",
		Subjects:          []string{cfg.Prefix + ".>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            cfg.MaxAge,
		MaxMsgs:           orUnlimited(cfg.MaxMsgs),
		MaxBytes:          orUnlimited(cfg.MaxBytes),
		MaxMsgsPerSubject: -1,
		MaxConsumers:      cfg.MaxSessions + ReservedConsumers,
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		Duplicates:        dup,
		AllowDirect:       true,
	}
	// The session bucket is a KV bucket whose stream jetsse configures itself,
	// so a single-replica bucket can persist asynchronously: records are
	// rewritten often, and losing the newest to a power cut only repeats a
	// few events. (JetStream refuses async persistence on replicated streams;
	// those flush asynchronously unless the server syncs always.)
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
	err = retry(ctx, func(ctx context.Context) error {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("stream %s: %w", cfg.Stream, err)
		}
		if _, err := js.CreateStream(ctx, kvs); errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Update the limits of an existing bucket; its persist mode
			// cannot change.
			cur, err := js.Stream(ctx, kvs.Name)
			if err != nil {
				return fmt.Errorf("bucket %s: %w", cfg.SessionBucket, err)
			}
			kvs.PersistMode = cur.CachedInfo().Config.PersistMode
			if _, err := js.UpdateStream(ctx, kvs); err != nil {
				return fmt.Errorf("bucket %s: %w", cfg.SessionBucket, err)
			}
		} else if err != nil {
			return fmt.Errorf("bucket %s: %w", cfg.SessionBucket, err)
		}
		kv, err := js.KeyValue(ctx, cfg.SessionBucket)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", cfg.SessionBucket, err)
		}
		l.kv = kv
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	return l, nil
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
// duplicate returns the original's sequence.
func (l *Log) Publish(ctx context.Context, topic, eventType string, data []byte, msgID string) (uint64, error) {
	msg := nats.NewMsg(l.Subject(topic))
	msg.Data = data
	if eventType != "" {
		msg.Header.Set(HeaderEventType, eventType)
	}
	if msgID != "" {
		msg.Header.Set(HeaderMsgID, msgID)
	}
	ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(l.cfg.Stream))
	if err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
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

	MaxMsgs  int64 // -1: unbounded
	MaxBytes int64 // -1: unbounded
	MaxAge   time.Duration
}

// State returns the stream's state (one STREAM.INFO request).
func (l *Log) State(ctx context.Context) (StreamState, error) {
	var info *jetstream.StreamInfo
	err := l.api(ctx, func() error {
		s, err := l.js.Stream(ctx, l.cfg.Stream)
		if err != nil {
			return err
		}
		info = s.CachedInfo()
		return nil
	})
	if err != nil {
		return StreamState{}, fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
	}
	return StreamState{
		FirstSeq:  info.State.FirstSeq,
		LastSeq:   info.State.LastSeq,
		Msgs:      info.State.Msgs,
		Bytes:     info.State.Bytes,
		Consumers: info.State.Consumers,
		MaxMsgs:   info.Config.MaxMsgs,
		MaxBytes:  info.Config.MaxBytes,
		MaxAge:    info.Config.MaxAge,
	}, nil
}

// JetStream returns the underlying JetStream context (for the live path's
// ordered consumer).
func (l *Log) JetStream() jetstream.JetStream { return l.js }
