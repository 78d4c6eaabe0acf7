package eventlog

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Change is something an operator (or another edge node) did to the
// stream or the session bucket, seen by WatchChanges.
type Change struct {
	// Store is "stream" or "bucket".
	Store string
	// What is "created", "deleted" or "updated" (advisories, after the
	// fact), or "purge", "delete" (a message), "update", "remove" or
	// "create" (API requests, seen before the server carries them out).
	What string
}

// WatchChanges calls fn (which must not block) when the stream or the
// session bucket is created, deleted or updated, or when a purge, a message
// deletion, an update, a deletion or a creation is asked of the stream,
// until ctx ends. It listens to JetStream's advisories and to the API
// requests themselves: a request is seen as the server receives it, before
// it is carried out, so a caller can stop trusting what it knew of the
// stream before the change lands. A user without permission to see them
// makes it blind, never fail: callers check the stores periodically as
// well.
func (l *Log) WatchChanges(ctx context.Context, fn func(Change)) error {
	bucket := "KV_" + l.cfg.SessionBucket
	subjects := map[string]Change{
		"$JS.EVENT.ADVISORY.STREAM.CREATED." + l.cfg.Stream: {"stream", "created"},
		"$JS.EVENT.ADVISORY.STREAM.DELETED." + l.cfg.Stream: {"stream", "deleted"},
		"$JS.EVENT.ADVISORY.STREAM.UPDATED." + l.cfg.Stream: {"stream", "updated"},
		"$JS.API.STREAM.PURGE." + l.cfg.Stream:              {"stream", "purge"},
		"$JS.API.STREAM.MSG.DELETE." + l.cfg.Stream:         {"stream", "delete"},
		"$JS.API.STREAM.UPDATE." + l.cfg.Stream:             {"stream", "update"},
		"$JS.API.STREAM.DELETE." + l.cfg.Stream:             {"stream", "remove"},
		"$JS.API.STREAM.CREATE." + l.cfg.Stream:             {"stream", "create"},
		"$JS.EVENT.ADVISORY.STREAM.CREATED." + bucket:       {"bucket", "created"},
		"$JS.EVENT.ADVISORY.STREAM.DELETED." + bucket:       {"bucket", "deleted"},
	}
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	for subject, ch := range subjects {
		sub, err := l.nc.Subscribe(subject, func(*nats.Msg) { fn(ch) })
		if err != nil {
			return fmt.Errorf("%w: watch %s: %v", ErrUnavailable, subject, err)
		}
		subs = append(subs, sub)
	}
	<-ctx.Done()
	return nil
}
