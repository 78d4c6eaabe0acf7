package features

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// background publishes events one at a time to a topic until stopped, each
// with its own Nats-Msg-Id and retried until acknowledged (a server that is
// down or restarting stores each event exactly once).
type background struct {
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	acked []published
	err   error
}

func startBackground(natsURL, subject, topic string, every time.Duration) (*background, error) {
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b := &background{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		defer nc.Close()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-b.stop:
				return
			case <-tick.C:
			}
			data := fmt.Sprintf("background #%d", i)
			msg := nats.NewMsg(subject)
			msg.Data = []byte(data)
			msg.Header.Set("Nats-Msg-Id", fmt.Sprintf("bg-%d", i))
			deadline := time.Now().Add(4 * waitTimeout)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				ack, err := js.PublishMsg(ctx, msg)
				cancel()
				if err == nil {
					b.mu.Lock()
					b.acked = append(b.acked, published{Seq: ack.Sequence, Topic: topic, Data: data})
					b.mu.Unlock()
					break
				}
				if time.Now().After(deadline) {
					b.mu.Lock()
					b.err = fmt.Errorf("background publish %d never acknowledged: %w", i, err)
					b.mu.Unlock()
					return
				}
			}
		}
	}()
	return b, nil
}

// count returns how many events were acknowledged so far.
func (b *background) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.acked)
}

// seq returns the sequence of the i-th acknowledged event (0-based).
func (b *background) seq(i int) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acked[i].Seq
}

// wait waits until at least n events were acknowledged.
func (b *background) wait(n int) error {
	deadline := time.Now().Add(2 * waitTimeout)
	for b.count() < n {
		b.mu.Lock()
		err := b.err
		b.mu.Unlock()
		if err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d background events acknowledged", b.count(), n)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	return nil
}

// halt stops publishing and returns what was acknowledged, in order.
func (b *background) halt() ([]published, error) {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acked, b.err
}
