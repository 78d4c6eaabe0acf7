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
)

// ConsumerPrefix starts the name of every session consumer.
const ConsumerPrefix = "sse-"

// ConsumerName returns the durable consumer name of a session.
func ConsumerName(sessionID string) string { return ConsumerPrefix + sessionID }

// Session is the stored state of a session.
type Session struct {
	ID       string
	Topics   []string  // as stored in the consumer's metadata
	Created  time.Time // from the consumer's metadata
	Position uint64    // last delivered event ID (the consumer's ack floor)
}

// CreateSession stores a new session positioned after event ID position:
// a durable consumer starting at position+1 with the session's topics as
// filter subjects (or the whole stream when the topics overlap, which
// JetStream refuses on one consumer; replay filters on the edge anyway).
func (l *Log) CreateSession(ctx context.Context, id string, topics []string, overlapping bool, position uint64, created time.Time) error {
	cfg := l.consumerConfig(id, topics, overlapping, position, created)
	err := l.api(ctx, func() error {
		_, err := l.js.CreateConsumer(ctx, l.cfg.Stream, cfg)
		return err
	})
	if err != nil {
		return fmt.Errorf("eventlog: create session consumer: %w", err)
	}
	return nil
}

func (l *Log) consumerConfig(id string, topics []string, overlapping bool, position uint64, created time.Time) jetstream.ConsumerConfig {
	tj, _ := json.Marshal(topics)
	cfg := jetstream.ConsumerConfig{
		Durable:           ConsumerName(id),
		Description:       "jetsse session",
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       position + 1,
		AckPolicy:         jetstream.AckAllPolicy,
		InactiveThreshold: l.cfg.SessionTTL,
		MemoryStorage:     l.cfg.SessionMemory,
		Metadata: map[string]string{
			MetaTopics:  string(tj),
			MetaCreated: created.UTC().Format(time.RFC3339Nano),
		},
	}
	cfg.FilterSubjects = l.filterSubjects(topics, overlapping)
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

// ResumeSession positions an existing session's consumer after event ID
// position (position+1 is the next event) and returns its stored state.
// With atFloor set, position is ignored and the consumer is reset to its
// own ack floor: the way to read the stored position. This goes to the
// consumer itself, not the serialized JetStream API.
//
// It returns ErrSessionNotFound when the consumer does not exist and
// ErrBelowStart when position is below the consumer's start sequence.
func (l *Log) ResumeSession(ctx context.Context, id string, position uint64, atFloor bool) (Session, error) {
	seq := position + 1
	if atFloor {
		seq = 0
	}
	info, err := l.reset(ctx, id, seq)
	if err != nil {
		return Session{}, err
	}
	return sessionFromInfo(id, info), nil
}

// resetWait bounds the first attempt of a reset. A reset is answered by the
// consumer itself; when the consumer does not exist nobody answers (the
// JetStream API drops the request), so a silent reset is settled by asking
// the API whether the consumer exists.
const resetWait = 500 * time.Millisecond

func (l *Log) reset(ctx context.Context, id string, seq uint64) (*jetstream.ConsumerInfo, error) {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, resetWait<<attempt)
		resp, err := l.js.ResetConsumerToSequence(actx, l.cfg.Stream, ConsumerName(id), seq)
		cancel()
		switch {
		case err == nil:
			return resp.ConsumerInfo, nil
		case errors.Is(err, jetstream.ErrConsumerInvalidReset):
			return nil, ErrBelowStart
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: reset session consumer: %v", ErrUnavailable, ctx.Err())
		case errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
			if _, err := l.StoredSession(ctx, id); err != nil {
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

// StoredSession returns a detached session's state from its consumer (one
// CONSUMER.INFO request), or ErrSessionNotFound.
func (l *Log) StoredSession(ctx context.Context, id string) (Session, error) {
	var info *jetstream.ConsumerInfo
	err := l.api(ctx, func() error {
		c, err := l.js.Consumer(ctx, l.cfg.Stream, ConsumerName(id))
		if err != nil {
			return err
		}
		info = c.CachedInfo()
		return nil
	})
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return Session{}, ErrSessionNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("%w: session consumer info: %v", ErrUnavailable, err)
	}
	return sessionFromInfo(id, info), nil
}

func sessionFromInfo(id string, info *jetstream.ConsumerInfo) Session {
	s := Session{ID: id, Position: info.AckFloor.Stream}
	if info.Config.Metadata != nil {
		_ = json.Unmarshal([]byte(info.Config.Metadata[MetaTopics]), &s.Topics)
		s.Created, _ = time.Parse(time.RFC3339Nano, info.Config.Metadata[MetaCreated])
	}
	return s
}

// ReplaceSession deletes and recreates a session's consumer: for moving a
// session below its start sequence, or changing what cannot be updated.
func (l *Log) ReplaceSession(ctx context.Context, id string, topics []string, overlapping bool, position uint64, created time.Time) error {
	err := l.api(ctx, func() error {
		err := l.js.DeleteConsumer(ctx, l.cfg.Stream, ConsumerName(id))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("eventlog: delete session consumer: %w", err)
	}
	return l.CreateSession(ctx, id, topics, overlapping, position, created)
}

// Checkpoint records position as the session's last delivered event ID (the
// consumer's ack floor). It returns ErrSessionNotFound if the consumer is
// gone.
func (l *Log) Checkpoint(ctx context.Context, id string, position uint64) error {
	_, err := l.reset(ctx, id, position+1)
	return err
}

// DeleteSession removes a session's consumer.
func (l *Log) DeleteSession(ctx context.Context, id string) error {
	err := l.api(ctx, func() error { return l.js.DeleteConsumer(ctx, l.cfg.Stream, ConsumerName(id)) })
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return ErrSessionNotFound
	}
	return err
}
