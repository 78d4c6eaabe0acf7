package eventlog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
)

// BenchmarkResumeSession: reading and setting a session's position (a
// consumer reset, answered by the consumer itself).
func BenchmarkResumeSession(b *testing.B) {
	l := openB(b)
	ctx := context.Background()
	for range 100 {
		if _, err := l.Publish(ctx, "t", "", []byte("x"), ""); err != nil {
			b.Fatal(err)
		}
	}
	id := "0000000000000000000000000000000c"
	if err := l.CreateSession(ctx, id, []string{"t"}, false, 1, time.Now()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.ResumeSession(ctx, id, uint64(1+i%90), false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateSession: a new session's consumer (the serialized API).
func BenchmarkCreateSession(b *testing.B) {
	l := openB(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.CreateSession(ctx, fmt.Sprintf("%032x", i), []string{"t"}, false, 0, time.Now()); err != nil {
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
	b.Cleanup(l.Close)
	return l
}
