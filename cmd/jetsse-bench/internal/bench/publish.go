package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher sends events to the server under test and records their
// acknowledgements in the Ledger it was made with.
//
// Publish and Flush may be called from one goroutine at a time; Close ends
// everything the publisher started and must be called once.
type Publisher interface {
	// Publish starts publishing data (counter n) to topic and returns
	// before the server acknowledges it. It blocks while the in-flight
	// limit is reached. A failure is recorded in the Ledger and returned.
	Publish(ctx context.Context, topic string, n uint64, data []byte) error
	// Flush waits until every publish started so far is acknowledged or
	// has failed.
	Flush(ctx context.Context) error
	Close() error
}

// NATSPublisher publishes to JetStream with asynchronous publishes and a
// bounded number in flight.
type NATSPublisher struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
	ledger *Ledger
	stall  time.Duration
}

var _ Publisher = (*NATSPublisher)(nil)

// NewNATSPublisher connects to url and publishes topic t to subject
// <prefix>.t, with at most maxInFlight unacknowledged publishes.
func NewNATSPublisher(url, prefix string, maxInFlight int, l *Ledger) (*NATSPublisher, error) {
	nc, err := nats.Connect(url, nats.Name("jetsse-bench"), nats.MaxReconnects(5))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(max(maxInFlight, 1)),
		jetstream.WithPublishAsyncTimeout(30*time.Second),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, a *jetstream.PubAck) {
			n, _ := PayloadCounter(m.Data)
			l.ack(n, a.Sequence)
		}),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			l.fail(err)
		}),
	)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &NATSPublisher{nc: nc, js: js, prefix: prefix, ledger: l, stall: 10 * time.Second}, nil
}

// Publish implements Publisher.
func (p *NATSPublisher) Publish(_ context.Context, topic string, _ uint64, data []byte) error {
	subj := topic
	if p.prefix != "" {
		subj = p.prefix + "." + topic
	}
	if _, err := p.js.PublishAsync(subj, data, jetstream.WithStallWait(p.stall)); err != nil {
		p.ledger.fail(err)
		return err
	}
	return nil
}

// Flush implements Publisher.
func (p *NATSPublisher) Flush(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %d publish acks: %w", p.js.PublishAsyncPending(), ctx.Err())
	}
}

// Close implements Publisher.
func (p *NATSPublisher) Close() error {
	p.nc.Close()
	return nil
}

// PublishPlan says what Drive publishes.
type PublishPlan struct {
	// Topic returns the topic of the event with counter n (1, 2, ...).
	Topic func(n uint64) string
	// Count is the number of events to publish.
	Count uint64
	// Rate is events per second; 0 publishes as fast as the publisher
	// accepts (bounded by its in-flight limit).
	Rate float64
	// Size pads each payload to at least this many bytes.
	Size int
	// First is the first counter (default 1), so that a run publishing in
	// several steps keeps counters, the sequence of --seq data, rising.
	First uint64
}

// Drive publishes plan.Count events, paced by a ticker at plan.Rate, until
// done or ctx ends. It returns without waiting for acknowledgements (see
// Publisher.Flush). Each payload carries its send time and counter.
func Drive(ctx context.Context, p Publisher, l *Ledger, plan PublishPlan) error {
	base := max(plan.First, 1) - 1
	send := func(n uint64) error {
		n += base
		data := AppendPayload(make([]byte, 0, max(plan.Size, 48)), time.Now().UnixNano(), n, plan.Size)
		l.Sent.Add(1)
		err := p.Publish(ctx, plan.Topic(n), n, data)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return nil // other failures are in the ledger
	}
	if plan.Rate <= 0 {
		for n := uint64(1); n <= plan.Count; n++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := send(n); err != nil {
				return err
			}
		}
		return nil
	}
	interval := max(time.Duration(float64(time.Second)/plan.Rate), time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	var n uint64
	for n < plan.Count {
		due := min(uint64(time.Since(start).Seconds()*plan.Rate)+1, plan.Count)
		for n < due {
			n++
			if err := send(n); err != nil {
				return err
			}
		}
		if n == plan.Count {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
