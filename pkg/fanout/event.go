package fanout

import (
	"errors"
	"time"

	"github.com/jetsse/jetsse/pkg/sse"
)

// Event is one event of the stream, shared read-only by every subscriber.
// An Event with a Gap is not an event of the stream but a marker in a
// subscriber's queue: the events after Gap.After and before Gap.First left
// the stream before the hub read them.
type Event struct {
	Seq   uint64
	Topic string    // subject without the stream prefix
	Frame []byte    // the complete SSE frame: id, event, data lines, blank line
	Time  time.Time // when JetStream stored it
	Gap   *Gap
}

// Gap says that the events after After and before First can no longer be
// delivered.
type Gap struct {
	After, First uint64
}

// Trust is what a caller verified the stream held after its client asked:
// First was its first event (everything below was evicted or purged). With
// Whole, the caller read the whole stream (see View) and Contiguous says
// whether every event from First on was stored; without, the hub's own
// knowledge of the stream's middle stands in (see Observe and Suspect).
// The ring serves a subscriber only events the caller verified.
type Trust struct {
	First      uint64
	Whole      bool
	Contiguous bool
	// Stream, when set, is when the stream was created: it tells the
	// stream the caller read from the one the ring holds events of.
	Stream time.Time
}

// Trust returns what a view verifies.
func (v View) Trust() Trust {
	return Trust{First: v.First, Whole: true, Contiguous: v.Contiguous, Stream: v.Created}
}

// View is what the stream held at one moment, as read from JetStream.
type View struct {
	First, Last uint64
	// Contiguous: the stream held every event from First to Last (nothing
	// was removed from its middle).
	Contiguous bool
	// Created identifies the stream; a recreated one has a later time.
	Created time.Time
}

// NewEvent encodes an event's SSE frame.
func NewEvent(seq uint64, topic, eventType string, data []byte, stored time.Time) *Event {
	return &Event{
		Seq:   seq,
		Topic: topic,
		Frame: sse.AppendEventWithSeq(make([]byte, 0, len(data)+32+len(eventType)), seq, eventType, data),
		Time:  stored,
	}
}

// Errors a subscription ends with.
var (
	// ErrOverflow: the subscriber's queue filled up; it fell behind.
	ErrOverflow = errors.New("fanout: subscriber fell behind")
	// ErrReset: the stream went backwards (it was recreated); positions
	// held by subscribers are no longer meaningful.
	ErrReset = errors.New("fanout: stream was reset")
	// ErrClosed: the hub stopped.
	ErrClosed = errors.New("fanout: hub stopped")
)
