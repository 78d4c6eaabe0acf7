package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ClaimEnded is the claim of a session an operator ended: its record is a
// tombstone until it expires, and its token resumes nothing.
const ClaimEnded = "!"

// LifecycleConsumer is the durable consumer on the session bucket's stream
// through which the edge nodes, sharing it, notice expired sessions.
const LifecycleConsumer = "jetsse_lifecycle"

// markerTTL is how long the session bucket keeps the marker JetStream
// leaves where a record expired. An expiry is announced if an edge node
// reads the marker within that time.
const markerTTL = 15 * time.Minute

// SessionEntry is a session record as stored: the record, its revision,
// and when it was written.
type SessionEntry struct {
	ID       string
	Record   Record
	Revision uint64
	Updated  time.Time
}

// Session returns one session's entry, or ErrSessionNotFound.
func (l *Log) Session(ctx context.Context, id string) (SessionEntry, error) {
	start := time.Now()
	e, err := l.kv.Get(ctx, id)
	l.observe("record_get", start, err)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return SessionEntry{}, ErrSessionNotFound
	}
	if err != nil {
		return SessionEntry{}, fmt.Errorf("%w: read session: %v", ErrUnavailable, err)
	}
	r, err := decodeRecord(e.Value())
	if err != nil {
		return SessionEntry{}, ErrSessionNotFound
	}
	return SessionEntry{ID: id, Record: r, Revision: e.Revision(), Updated: e.Created()}, nil
}

// Sessions returns every session record (ended ones included), ordered by
// session ID. It reads the whole bucket with one ordered consumer.
func (l *Log) Sessions(ctx context.Context) ([]SessionEntry, error) {
	w, err := l.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("%w: list sessions: %v", ErrUnavailable, err)
	}
	defer w.Stop()
	var out []SessionEntry
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("%w: list sessions: the watch ended", ErrUnavailable)
			}
			if e == nil { // every stored record has been read
				slices.SortFunc(out, func(a, b SessionEntry) int { return strings.Compare(a.ID, b.ID) })
				return out, nil
			}
			if r, err := decodeRecord(e.Value()); err == nil {
				out = append(out, SessionEntry{ID: e.Key(), Record: r, Revision: e.Revision(), Updated: e.Created()})
			}
		}
	}
}

// EndSession ends a session: its record becomes a tombstone (ClaimEnded)
// that every node's claims watch sees (the node holding its connection
// ends it) and that expires like any record, and its consumer is deleted.
// It returns the record as it was, or ErrSessionNotFound.
func (l *Log) EndSession(ctx context.Context, id string) (Record, error) {
	e, err := l.Session(ctx, id)
	if err != nil {
		return Record{}, err
	}
	if e.Record.Claim == ClaimEnded {
		return Record{}, ErrSessionNotFound
	}
	tomb := e.Record
	tomb.Claim = ClaimEnded
	start := time.Now()
	_, err = l.kv.Put(ctx, id, tomb.encode())
	l.observe("record_put", start, err)
	if err != nil {
		return Record{}, fmt.Errorf("%w: end session: %v", ErrUnavailable, err)
	}
	if err := l.DeleteConsumer(ctx, id); err != nil && !errors.Is(err, ErrConsumerNotFound) {
		return e.Record, err
	}
	return e.Record, nil
}

// WatchExpiries calls fn with the ID of every session whose record expired
// (reached the bucket's max age, --session-ttl after its last write),
// until ctx ends. The edge nodes share one durable consumer
// (LifecycleConsumer) on the bucket's stream, so each expiry reaches one
// node, also one that was not running when it happened (if it starts
// within the marker's lifetime: JetStream keeps it 15 minutes, or the
// session TTL if that is shorter, as the bucket's max age applies to it). An
// expiry taken by a node that stops before handling it reaches another
// node after the consumer's ack wait (5 s); announcements are at least once.
func (l *Log) WatchExpiries(ctx context.Context, fn func(id string)) error {
	stream := "KV_" + l.cfg.SessionBucket
	prefix := "$KV." + l.cfg.SessionBucket + "."
	var cons jetstream.Consumer
	err := l.api(ctx, "consumer_create", func() error {
		var err error
		cons, err = l.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable:       LifecycleConsumer,
			Description:   "jetsse edge nodes: expired sessions (the bucket's max-age markers)",
			FilterSubject: prefix + ">",
			DeliverPolicy: jetstream.DeliverNewPolicy,
			// Only the marker's headers matter, not the records.
			HeadersOnly: true,
			AckPolicy:   jetstream.AckExplicitPolicy,
			// What a node took and could not handle (it stopped or died)
			// goes to another node after a few seconds.
			AckWait:       5 * time.Second,
			MaxAckPending: 10_000,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: expiry consumer: %v", ErrUnavailable, err)
	}
	// A pull request sent before a new replicated consumer has a leader is
	// lost (the iterator notices only when heartbeats are missed).
	waitForLeader(ctx, cons)
	// Short pull requests: one lost anyway is noticed within seconds.
	it, err := cons.Messages(jetstream.PullMaxMessages(100), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("%w: expiry consumer: %v", ErrUnavailable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: expiry consumer: %v", ErrUnavailable, err)
		}
		if m.Headers().Get(jetstream.MarkerReasonHeader) == "MaxAge" {
			fn(strings.TrimPrefix(m.Subject(), prefix))
		}
		_ = m.Ack()
	}
}

// waitForLeader waits, for at most 5 s, until a replicated consumer has a
// leader.
func waitForLeader(ctx context.Context, cons jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		ci, err := cons.Info(ctx)
		if err == nil && (ci.Cluster == nil || ci.Cluster.Leader != "") {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
