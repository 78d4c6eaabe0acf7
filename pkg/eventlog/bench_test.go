package eventlog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
)

// BenchmarkMoveConsumer: storing a detached session whose consumer exists
// (a consumer reset, answered by the consumer itself).
func BenchmarkMoveConsumer(b *testing.B) {
	l := openWithEvents(b, 100)
	ctx := context.Background()
	id := "0000000000000000000000000000000c"
	rec := eventlog.Record{Position: 1, Created: time.Now(), Topics: []string{"t"}}
	if err := l.StoreConsumer(ctx, id, rec, false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec.Position = uint64(1 + i%90)
		if err := l.StoreConsumer(ctx, id, rec, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreNewConsumer: a detached session's first consumer (the
// serialized JetStream API).
func BenchmarkStoreNewConsumer(b *testing.B) {
	l := openB(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := eventlog.Record{Created: time.Now(), Topics: []string{"t"}}
		if err := l.StoreConsumer(ctx, fmt.Sprintf("%032x", i), rec, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadBatch: replaying history with batched direct gets, for a
// topic that is 1 in every `every` events of the stream.
func BenchmarkReadBatch(b *testing.B) {
	for _, every := range []int{1, 100} {
		b.Run(fmt.Sprintf("density=1/%d", every), func(b *testing.B) {
			l := openB(b)
			ctx := context.Background()
			const total = 20000
			for i := range total {
				topic := "busy"
				if i%every == 0 {
					topic = "mine"
				}
				if _, err := l.Publish(ctx, topic, "", []byte(`{"n":12345}`), ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			events := 0
			for i := 0; i < b.N; i++ {
				after := uint64(0)
				for {
					msgs, more, err := l.ReadBatch(ctx, after, "events.mine", 1000, 0)
					if err != nil {
						b.Fatal(err)
					}
					events += len(msgs)
					if len(msgs) > 0 {
						after = msgs[len(msgs)-1].Seq
					}
					if !more {
						break
					}
				}
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func openB(b *testing.B) *eventlog.Log {
	b.Helper()
	_, nc := testenvNATS(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := eventlog.Open(ctx, nc, eventlog.Config{SessionTTL: time.Minute, MaxSessions: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkFirstStored: where the stream starts, read by every connection
// that resumes (one direct get).
func BenchmarkFirstStored(b *testing.B) {
	l := openWithEvents(b, 100)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if f, err := l.FirstStored(ctx); err != nil || f.Seq != 1 {
			b.Fatal(f, err)
		}
	}
}

// openWithEvents opens a log whose stream holds n events on topic "t".
func openWithEvents(b *testing.B, n int) *eventlog.Log {
	b.Helper()
	l := openB(b)
	for range n {
		if _, err := l.Publish(context.Background(), "t", "", []byte("x"), ""); err != nil {
			b.Fatal(err)
		}
	}
	return l
}
