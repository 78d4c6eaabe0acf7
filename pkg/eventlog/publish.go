package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publish stores one event and returns its event ID (stream sequence).
// msgID, when non-empty, de-duplicates within the stream's window: a
// duplicate returns the original's sequence. An event that can never be
// stored (see ErrTooLarge) is refused before it reaches the stream.
func (l *Log) Publish(ctx context.Context, topic, eventType string, data []byte, msgID string) (uint64, error) {
	msg := nats.NewMsg(l.Subject(topic))
	msg.Data = data
	hdr := 0
	if eventType != "" {
		msg.Header.Set(HeaderEventType, eventType)
		hdr += len(HeaderEventType) + len(eventType) + 4
	}
	if msgID != "" {
		msg.Header.Set(HeaderMsgID, msgID)
		hdr += len(HeaderMsgID) + len(msgID) + 4
	}
	if hdr > 0 {
		hdr += len("NATS/1.0\r\n\r\n")
	}
	if !l.fits(msg.Subject, hdr, len(data)) {
		return 0, ErrTooLarge
	}
	start := time.Now()
	ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(l.cfg.Stream))
	l.observe("publish", start, err)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.Is(err, nats.ErrMaxPayload) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
			return 0, ErrTooLarge
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) ||
			errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrConnectionClosed) {
			return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return 0, fmt.Errorf("eventlog: publish: %w", err)
	}
	return ack.Sequence, nil
}

// fits reports whether a message could be stored without exceeding the
// stream's limits as last read (the server decides in the end; this spares
// a round trip, and catches a byte limit lowered without a message size).
func (l *Log) fits(subject string, hdr, data int) bool {
	lim := l.limits.Load()
	if lim == nil {
		return true
	}
	if lim.MaxMsgSize > 0 && hdr+data > int(lim.MaxMsgSize) {
		return false
	}
	size := int64(storeOverhead + len(subject) + hdr + data)
	return lim.MaxBytes <= 0 || size <= lim.MaxBytes
}
