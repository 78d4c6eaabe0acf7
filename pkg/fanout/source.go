package fanout

import (
	"context"
	"time"
)

// Source is the stream a Hub reads: in the edge, pkg/eventlog's ordered
// consumer over JetStream.
type Source interface {
	// View reads the stream's state; the hub starts reading at its tail so
	// that its ring is warm.
	View(ctx context.Context) (View, error)
	// Follow calls fn for every event from sequence start on, in stream
	// order, from one goroutine, until ctx ends (then it returns nil) or it
	// can go on no more (an error). It calls started once it reads.
	Follow(ctx context.Context, start uint64, started func(), fn func(Msg)) error
}

// Msg is one event as a Source read it.
type Msg struct {
	Seq   uint64
	Topic string // the subject without the stream's prefix
	Type  string // the publisher's event type ("" for none)
	Data  []byte
	Time  time.Time // when the stream stored it
}
