package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// First is the first event the stream holds: everything below it was
// evicted or purged.
type First struct {
	Seq  uint64    // 0: the stream holds no event (new, or purged)
	Time time.Time // when it was stored
}

// FirstStored returns the first event the stream holds, read by a direct get
// that started after the call. Direct gets are answered by the stream
// itself, so unlike State (a STREAM.INFO, which JetStream serves only when
// no other API request waits) it is not held up by consumer creates and
// deletes, as in a reconnect storm; and concurrent callers share reads, at
// most two in flight (see State).
func (l *Log) FirstStored(ctx context.Context) (First, error) {
	return l.first.do(ctx)
}

func (l *Log) readFirst(ctx context.Context) (First, error) {
	// Not a batch: one answer, the first event on any subject, or 404. The
	// connection's shared response inbox takes it.
	req, _ := json.Marshal(directBatchRequest{Seq: 1, NextFor: ">"})
	m, err := l.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+l.cfg.Stream, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return First{}, ErrStreamNotFound
	}
	if err != nil {
		return First{}, fmt.Errorf("%w: direct get: %v", ErrUnavailable, err)
	}
	switch status := m.Header.Get("Status"); status {
	case "":
	case "404":
		return First{}, nil
	default:
		return First{}, fmt.Errorf("%w: direct get: %s %s", ErrUnavailable, status, m.Header.Get("Description"))
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return First{}, fmt.Errorf("eventlog: direct get: bad sequence header: %w", err)
	}
	at, _ := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	return First{Seq: seq, Time: at}, nil
}

// ErrBucketNotFound: the session bucket does not exist (an operator deleted
// it; Ensure makes it again). It wraps ErrUnavailable.
var ErrBucketNotFound = fmt.Errorf("%w: session bucket not found", ErrUnavailable)

// Present reports whether the stream and the session bucket exist and
// answer (ErrStreamNotFound, ErrBucketNotFound, or ErrUnavailable), with a
// direct get to each: nobody answers a stream that does not exist. It uses
// no JetStream API request.
func (l *Log) Present(ctx context.Context) error {
	if _, err := l.FirstStored(ctx); err != nil {
		return err
	}
	req, _ := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{"$KV." + l.cfg.SessionBucket + ".>"})
	_, err := l.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET.KV_"+l.cfg.SessionBucket, req)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return ErrBucketNotFound
	case err != nil:
		return fmt.Errorf("%w: direct get: %v", ErrUnavailable, err)
	}
	return nil
}
