package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Consumer metadata keys on session consumers. Never the token.
const (
	MetaTopics  = "jetsse.topics"
	MetaCreated = "jetsse.created"
	MetaSubject = "jetsse.subject" // the identity the session belongs to, when it has one
)

// ConsumerPrefix starts the name of every session consumer.
const ConsumerPrefix = "sse-"

// ConsumerName returns the durable consumer name of a session.
func ConsumerName(sessionID string) string { return ConsumerPrefix + sessionID }

// ConsumerState is what a detached session's consumer holds.
type ConsumerState struct {
	ID       string
	Topics   []string  // as stored in the consumer's metadata
	Created  time.Time // from the consumer's metadata
	Subject  string    // from the consumer's metadata ("" for anonymous)
	Position uint64    // the last event ID its client surely had (see consumerPosition)
}

// createConsumer makes a session's consumer positioned after event ID
// position: a durable consumer starting at position+1 with the session's
// topics as filter subjects (or the whole stream when the topics overlap,
// which JetStream refuses on one consumer; replay filters on the edge
// anyway).
func (l *Log) createConsumer(ctx context.Context, id string, r Record, overlapping bool) error {
	cfg := l.consumerConfig(id, r, overlapping)
	err := l.api(ctx, "consumer_create", func() error {
		_, err := l.js.CreateConsumer(ctx, l.cfg.Stream, cfg)
		return err
	})
	if err != nil {
		return fmt.Errorf("eventlog: create session consumer: %w", err)
	}
	return nil
}

func (l *Log) consumerConfig(id string, r Record, overlapping bool) jetstream.ConsumerConfig {
	tj, _ := json.Marshal(r.Topics)
	cfg := jetstream.ConsumerConfig{
		Durable:           ConsumerName(id),
		Description:       "jetsse session",
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       r.Position + 1,
		AckPolicy:         jetstream.AckAllPolicy,
		InactiveThreshold: l.cfg.SessionTTL,
		MemoryStorage:     l.cfg.SessionMemory,
		// One replica, whatever the stream's: on a cluster a replicated
		// consumer is a Raft group of its own, per detached session. The
		// session's record (replicated with the bucket) holds the same
		// position, so losing the NATS server of a consumer loses nothing.
		Replicas: 1,
		Metadata: map[string]string{
			MetaTopics:  string(tj),
			MetaCreated: r.Created.UTC().Format(time.RFC3339Nano),
		},
	}
	if r.Subject != "" {
		cfg.Metadata[MetaSubject] = r.Subject
	}
	cfg.FilterSubjects = l.filterSubjects(r.Topics, overlapping)
	return cfg
}

func (l *Log) filterSubjects(topics []string, overlapping bool) []string {
	if overlapping {
		return []string{l.cfg.Prefix + ".>"}
	}
	subjects := make([]string, len(topics))
	for i, t := range topics {
		subjects[i] = l.Subject(t)
	}
	return subjects
}

// resetWait bounds the first attempt of a reset. A reset is answered by the
// consumer itself; when the consumer does not exist nobody answers (the
// JetStream API drops the request), so a silent reset is settled by asking
// the API whether the consumer exists.
const resetWait = 500 * time.Millisecond

func (l *Log) reset(ctx context.Context, id string, seq uint64) (*jetstream.ConsumerInfo, error) {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, resetWait<<attempt)
		start := time.Now()
		resp, err := l.js.ResetConsumerToSequence(actx, l.cfg.Stream, ConsumerName(id), seq)
		l.observe("consumer_reset", start, err)
		cancel()
		switch {
		case err == nil:
			return resp.ConsumerInfo, nil
		case errors.Is(err, jetstream.ErrConsumerInvalidReset):
			return nil, ErrBelowStart
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: reset session consumer: %v", ErrUnavailable, ctx.Err())
		case errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
			if _, err := l.Consumer(ctx, id); err != nil {
				return nil, err
			}
			if attempt >= 3 {
				return nil, fmt.Errorf("%w: reset session consumer: no answer", ErrUnavailable)
			}
			// It exists and was slow (busy, or between leaders): try again.
		default:
			return nil, fmt.Errorf("%w: reset session consumer: %v", ErrUnavailable, err)
		}
	}
}

// Consumer returns a detached session's state from its consumer (one
// CONSUMER.INFO request), or ErrConsumerNotFound.
func (l *Log) Consumer(ctx context.Context, id string) (ConsumerState, error) {
	var info *jetstream.ConsumerInfo
	err := l.api(ctx, "consumer_info", func() error {
		c, err := l.js.Consumer(ctx, l.cfg.Stream, ConsumerName(id))
		if err != nil {
			return err
		}
		info = c.CachedInfo()
		return nil
	})
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return ConsumerState{}, ErrConsumerNotFound
	}
	if err != nil {
		return ConsumerState{}, fmt.Errorf("%w: session consumer info: %v", ErrUnavailable, err)
	}
	return stateFromInfo(id, info), nil
}

func stateFromInfo(id string, info *jetstream.ConsumerInfo) ConsumerState {
	s := ConsumerState{ID: id, Position: consumerPosition(info)}
	if info.Config.Metadata != nil {
		_ = json.Unmarshal([]byte(info.Config.Metadata[MetaTopics]), &s.Topics)
		s.Created, _ = time.Parse(time.RFC3339Nano, info.Config.Metadata[MetaCreated])
		s.Subject = info.Config.Metadata[MetaSubject]
	}
	return s
}

// replaceConsumer deletes and recreates a session's consumer: for moving a
// session below its start sequence, or changing what cannot be updated.
func (l *Log) replaceConsumer(ctx context.Context, id string, r Record, overlapping bool) error {
	err := l.api(ctx, "consumer_delete", func() error {
		err := l.js.DeleteConsumer(ctx, l.cfg.Stream, ConsumerName(id))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("eventlog: delete session consumer: %w", err)
	}
	return l.createConsumer(ctx, id, r, overlapping)
}

// DeleteConsumer removes a session's consumer.
func (l *Log) DeleteConsumer(ctx context.Context, id string) error {
	err := l.api(ctx, "consumer_delete", func() error { return l.js.DeleteConsumer(ctx, l.cfg.Stream, ConsumerName(id)) })
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return ErrConsumerNotFound
	}
	return err
}

// StoreConsumer makes sure a detached session has its durable consumer
// (sse-<id>), positioned at r.Position: created if missing, reset if it
// exists, replaced if it cannot be reset that far back. JetStream removes
// it after --session-ttl without activity.
func (l *Log) StoreConsumer(ctx context.Context, id string, r Record, overlapping bool) error {
	if !l.roomForConsumer(ctx) {
		// At the limit, only a session that still has its consumer keeps
		// one (moved, or made again: no more consumers than before).
		return l.moveConsumer(ctx, id, r, overlapping, ErrTooManySessions)
	}
	err := l.createConsumer(ctx, id, r, overlapping)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrMaximumConsumersLimit):
		return l.moveConsumer(ctx, id, r, overlapping, ErrTooManySessions)
	case !errors.Is(err, jetstream.ErrConsumerExists):
		return err
	}
	return l.moveConsumer(ctx, id, r, overlapping, nil)
}

// moveConsumer positions the session's existing consumer at r; without
// one it returns missing (or, when missing is nil, makes one).
func (l *Log) moveConsumer(ctx context.Context, id string, r Record, overlapping bool, missing error) error {
	info, err := l.reset(ctx, id, r.Position+1)
	switch {
	case err == nil:
		if stateFromInfo(id, info).sameTopics(r.Topics) {
			return nil
		}
		// Subscribed to other topics since the consumer was made (its start
		// sequence cannot be updated, so it is made again).
		return l.replaceConsumer(ctx, id, r, overlapping)
	case errors.Is(err, ErrBelowStart):
		return l.replaceConsumer(ctx, id, r, overlapping)
	case errors.Is(err, ErrConsumerNotFound):
		if missing != nil {
			return missing
		}
		return l.replaceConsumer(ctx, id, r, overlapping)
	}
	return err
}

// roomForConsumer reports whether one more session consumer fits under
// MaxSessions, counting it if so. The stream's consumer count is read at
// most once a second; in between this node adds what it made, so only
// other nodes' consumers of the same second can overshoot, into the
// reserve.
func (l *Log) roomForConsumer(ctx context.Context) bool {
	l.countMu.Lock()
	defer l.countMu.Unlock()
	if now := time.Now(); now.Sub(l.countAt) >= time.Second {
		s, err := l.State(ctx)
		if err != nil {
			return true // the server's own limit still holds
		}
		l.count, l.countAt = s.Consumers, now
	}
	if l.count >= l.cfg.MaxSessions {
		return false
	}
	l.count++
	return true
}

// consumerPosition is the position a session's consumer holds: the stream
// sequence before its start, or where it was last reset to. The edge never
// takes deliveries from it, so that is both its ack floor and its delivered
// stream sequence, except that JetStream reports an ack floor of 0 for a
// replicated consumer (on a cluster, replicas > 1) made at a start sequence
// until it is first reset. So the delivered stream sequence counts when
// every delivery is acknowledged (none, for the edge's own), and the ack
// floor otherwise: should anyone have taken deliveries from the consumer,
// those not acknowledged are not the client's.
func consumerPosition(info *jetstream.ConsumerInfo) uint64 {
	if info.Delivered.Consumer == info.AckFloor.Consumer {
		return max(info.AckFloor.Stream, info.Delivered.Stream)
	}
	return info.AckFloor.Stream
}

func (s ConsumerState) sameTopics(topics []string) bool {
	if len(s.Topics) != len(topics) {
		return false
	}
	for i := range topics {
		if s.Topics[i] != topics[i] {
			return false
		}
	}
	return true
}
