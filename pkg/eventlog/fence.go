package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Claim records owner as the session's attached connection and returns the
// claim's revision. Revisions order claims across all edge nodes: of two
// claims for one session, the higher revision is the newer connection.
func (l *Log) Claim(ctx context.Context, sessionID, owner string) (uint64, error) {
	rev, err := l.kv.Put(ctx, sessionID, []byte(owner))
	if err != nil {
		return 0, fmt.Errorf("%w: claim session: %v", ErrUnavailable, err)
	}
	return rev, nil
}

// ClaimEvent is one claim seen by WatchClaims.
type ClaimEvent struct {
	SessionID string
	Owner     string
	Revision  uint64
}

// WatchClaims calls fn, in revision order, for every claim made from now on
// by any node, until ctx ends. ready is closed once the watch is
// established: claims made after that are never missed.
func (l *Log) WatchClaims(ctx context.Context, ready chan<- struct{}, fn func(ClaimEvent)) error {
	w, err := l.kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("%w: watch claims: %v", ErrUnavailable, err)
	}
	defer w.Stop()
	if ready != nil {
		close(ready)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("eventlog: claim watch ended")
			}
			if e == nil {
				continue
			}
			fn(ClaimEvent{SessionID: e.Key(), Owner: string(e.Value()), Revision: e.Revision()})
		}
	}
}
