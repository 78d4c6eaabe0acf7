// Package eventlog is jetsse's JetStream layer. It knows nothing of HTTP
// or SSE framing. What it keeps:
//
//   - the event stream: provisioned (created if missing, only explicitly
//     given limits applied to an existing one, made again if deleted),
//     published to (pipelined: one inbox subscription routes every
//     acknowledgement to the publish waiting for it; Publish,
//     PublishBatch), read back by batched direct gets, and followed by one
//     ordered consumer per node for the live path (LiveSource);
//   - sessions: a session is its record in the KV bucket jetsse_sessions
//     (which connection holds its claim, its position, its topics),
//     written while a connection is attached and expiring --session-ttl
//     after the last write;
//   - consumers: a detached session also gets a durable consumer
//     (sse-<id>, position = ack floor, removed by its inactive threshold),
//     which operators see with `nats consumer ls`;
//   - claims: every record write is a claim ordered by the bucket's
//     revisions, watched by every node (WatchClaims), so a session has one
//     attached connection across nodes.
//
// docs/architecture.md explains the choices; docs/protocol.md the contract.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetsse/jetsse/internal/defaults"
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
	// MaxTopics is the most topics a subscription may have (default 32);
	// with MaxTopicLen it bounds a session record (MaxRecordSize), the
	// session bucket's largest value.
	MaxTopics int
	// SessionBucketBytes bounds the session bucket's size (default
	// defaults.SessionBucketBytes); when it is full, new sessions are
	// refused until records expire.
	SessionBucketBytes int64
	// Explicit lists the limits that were given explicitly (a flag or an
	// environment variable). A stream that exists already keeps the rest as
	// it is, so what an operator changed with `nats stream edit` survives a
	// restart. A stream that is created gets every limit.
	Explicit Limit
	// Observe, if set, is told of every JetStream request the log makes
	// (API requests, publishes, session record reads and writes): its
	// operation, how long it took and its result (see Result). It must
	// not block. Ordered consumers' own requests are not counted.
	Observe func(op string, took time.Duration, result string)
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
		c.Stream = defaults.Stream
	}
	if c.Prefix == "" {
		c.Prefix = defaults.SubjectPrefix
	}
	if c.Replicas <= 0 {
		c.Replicas = defaults.Replicas
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = defaults.MaxSessions
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = defaults.SessionTTL
	}
	if c.SessionBucket == "" {
		c.SessionBucket = defaults.SessionBucket
	}
	if c.APIConcurrency <= 0 {
		c.APIConcurrency = defaults.APIConcurrency
	}
	if c.MaxTopicLen <= 0 {
		c.MaxTopicLen = defaults.MaxTopicLen
	}
	if c.MaxTopics <= 0 {
		c.MaxTopics = defaults.MaxTopics
	}
	if c.SessionBucketBytes <= 0 {
		c.SessionBucketBytes = defaults.SessionBucketBytes
	}
}

// ReservedConsumers is the room the stream keeps beyond MaxSessions for
// consumers that are not sessions: each edge node's live consumer, and
// operators' own.
const ReservedConsumers = defaults.ReservedConsumers

// Log is the JetStream side of one edge node. It is safe for concurrent use.
type Log struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	sem chan struct{}
	// acks routes publish acknowledgements to the publishes waiting;
	// recordAcks does the same for writes to session records.
	acks       *acks
	recordAcks *acks
	// plainHeader is the header of an event without type or message ID;
	// never written once made.
	plainHeader nats.Header

	// state coalesces stream state reads (see State); limits is the stream's
	// configuration as last read, for refusing events that cannot fit.
	state  coalescer[StreamState]
	first  coalescer[First]
	limits atomic.Pointer[StreamState]

	// The stream's consumer count as last read, plus the consumers this
	// node made since (see roomForConsumer).
	countMu sync.Mutex
	count   int
	countAt time.Time
}

// Errors returned by Log.
var (
	// ErrSessionNotFound: the session has no record (never created, or
	// expired --session-ttl after its last write).
	ErrSessionNotFound = errors.New("eventlog: session not found")
	// ErrConsumerNotFound: the session has no durable consumer (never
	// detached, attached again, or removed by its inactive threshold).
	ErrConsumerNotFound = errors.New("eventlog: session consumer not found")
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
	l := &Log{cfg: cfg, nc: nc, js: js, sem: make(chan struct{}, cfg.APIConcurrency),
		plainHeader: nats.Header{jetstream.ExpectedStreamHeader: {cfg.Stream}}}
	if l.acks, err = startAcks(nc, cfg.Stream); err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	if l.recordAcks, err = startAcks(nc, "KV_"+cfg.SessionBucket); err != nil {
		_ = l.acks.sub.Unsubscribe()
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	l.state.fn, l.first.fn = l.readState, l.readFirst
	err = retry(ctx, func(ctx context.Context) error {
		if err := l.provisionStream(ctx, true); err != nil {
			return err
		}
		_, err := l.provisionBucket(ctx, true)
		return err
	})
	if err != nil {
		_ = l.acks.sub.Unsubscribe()
		_ = l.recordAcks.sub.Unsubscribe()
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	return l, nil
}

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
func (l *Log) api(ctx context.Context, op string, f func() error) error {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.sem }()
	start := time.Now()
	err := f()
	l.observe(op, start, err)
	return err
}

// observe reports a request of op that started at start and ended with err
// to Config.Observe.
func (l *Log) observe(op string, start time.Time, err error) {
	if l.cfg.Observe != nil {
		l.cfg.Observe(op, time.Since(start), Result(err))
	}
}

// Result classifies a JetStream request's error for metrics: "ok",
// "not_found" (no such key, consumer or stream), "conflict" (a record
// written meanwhile), "too_large", "timeout", "canceled" or "error".
func Result(err error) string {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrConsumerNotFound),
		errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrBucketNotFound):
		return "not_found"
	case errors.Is(err, jetstream.ErrKeyExists),
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return "conflict"
	case errors.Is(err, nats.ErrMaxPayload),
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
		return "too_large"
	case Unanswered(err):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// Unanswered reports whether err is a request that nobody answered in time
// (a timeout, or no responders): it says nothing about what JetStream holds.
func Unanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// Subject returns the NATS subject of a topic.
func (l *Log) Subject(topic string) string { return l.cfg.Prefix + "." + topic }

// Topic returns the topic of a subject of the stream.
func (l *Log) Topic(subject string) string {
	return strings.TrimPrefix(subject, l.cfg.Prefix+".")
}
