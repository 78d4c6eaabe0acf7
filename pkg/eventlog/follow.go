package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/pkg/fanout"
)

// LiveSource returns the stream as the live path reads it (fanout.Source):
// its state, and every event from a sequence on through one JetStream
// ordered consumer.
func (l *Log) LiveSource() fanout.Source { return liveSource{l} }

type liveSource struct{ l *Log }

func (s liveSource) View(ctx context.Context) (fanout.View, error) {
	st, err := s.l.State(ctx)
	return st.View(), err
}

// Follow reads every event of the stream from sequence start on with an
// ordered consumer (JetStream re-creates it after a missed heartbeat or a
// lost connection, from the next sequence), calling fn in stream order
// until ctx ends (nil) or the consumer stops.
func (s liveSource) Follow(ctx context.Context, start uint64, started func(), fn func(fanout.Msg)) error {
	l := s.l
	cons, err := l.js.OrderedConsumer(ctx, l.cfg.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.cfg.Prefix + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    start,
	})
	if err != nil {
		return fmt.Errorf("eventlog: ordered consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		fn(fanout.Msg{
			Seq:   md.Sequence.Stream,
			Topic: l.Topic(m.Subject()),
			Type:  m.Headers().Get(HeaderEventType),
			Data:  m.Data(),
			Time:  md.Timestamp,
		})
	},
		jetstream.PullMaxMessagesWithBytesLimit(1000, 4<<20),
		// A reader whose NATS server died is noticed after two missed
		// heartbeats: 2 s of silence for its clients, not nats.go's
		// default 10 s (features/failover.feature).
		jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return fmt.Errorf("eventlog: consume: %w", err)
	}
	started()
	select {
	case <-ctx.Done():
	case <-cc.Closed():
	}
	cc.Stop()
	<-cc.Closed()
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("eventlog: the ordered consumer stopped")
}
