// Package edge is the jetsse edge as a go-kit service: publishing events,
// and opening resumable event streams for sessions (identity, start
// position, gaps, claims across nodes, takeover) over JetStream
// (pkg/eventlog) and the node's live path (pkg/fanout). It knows nothing of
// HTTP, sockets or SSE frames: services/edge/httptransport serves it.
// docs/protocol.md is the contract it keeps; docs/architecture.md says how.
package edge

import (
	"context"
	"strings"
	"time"

	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/fanout"
)

// Service is what the edge offers, whatever the transport.
type Service interface {
	// Publish stores one event and returns its event ID, once JetStream
	// acknowledged it as stored.
	Publish(ctx context.Context, req PublishRequest) (PublishResponse, error)
	// PublishBatch stores several events, in order, each under its own
	// event ID. A batch that fails a check (input, grants, limits) is
	// refused whole before anything is published. Once published, events
	// are stored independently: if some fail, the error is a *BatchError
	// and the response still lists the IDs of those stored.
	PublishBatch(ctx context.Context, req PublishBatchRequest) (PublishBatchResponse, error)
	// Subscribe resolves the session and starting position of a new
	// connection and returns its Stream. The caller must Close the stream.
	Subscribe(ctx context.Context, req SubscribeRequest) (*Stream, error)
	// Ready returns nil exactly while the node can serve.
	Ready(ctx context.Context) error
}

// Principal is who a request comes from, as the transport authenticated
// it, and what it may do. The zero Principal is anonymous and may do
// nothing.
type Principal struct {
	// Subject is the identity (a JWT's "sub"); "" for an anonymous client.
	// A session belongs to the subject that created it.
	Subject string
	// Subscribe and Publish are the topics the principal may subscribe and
	// publish to: every topic asked for must be covered (auth.Grants).
	Subscribe auth.Grants
	Publish   auth.Grants
	// Expires is when the credentials expire (zero: never). A stream
	// opened with them ends then (ErrReauth).
	Expires time.Time
}

// PublishRequest is one event to store.
type PublishRequest struct {
	Principal Principal
	Topic     string
	Event     string // the SSE event type ("" for none)
	Data      string
	// MsgID, when set, is the Nats-Msg-Id: a retried publish with the same
	// ID within the de-duplication window is stored once.
	MsgID string
}

// PublishResponse answers a publish with the new event's ID.
type PublishResponse struct {
	ID string
}

// Event is one event of a batch (the fields of a PublishRequest).
type Event struct {
	Topic string
	Event string // the SSE event type ("" for none)
	Data  string
	MsgID string // the Nats-Msg-Id ("" for none)
}

// PublishBatchRequest is several events to store, in this order.
type PublishBatchRequest struct {
	Principal Principal
	Events    []Event
}

// PublishBatchResponse answers a batch: IDs[i] is the event ID of
// Events[i], or "" if it was not stored (see BatchError). An event whose
// message ID repeats one still in the stream's de-duplication window gets
// the stored event's ID.
type PublishBatchResponse struct {
	IDs []string
}

// SubscribeRequest describes a new connection.
type SubscribeRequest struct {
	Principal Principal
	// Client names the client for the per-client admission limits (its
	// address, see ClientKey); "" is not limited per client.
	Client string
	Topics []string
	// LastEventID is the client's position (Last-Event-ID) when
	// HasLastEventID is set.
	LastEventID    string
	HasLastEventID bool
	// Token is the session token presented, or "".
	Token string
}

// SessionInfo is what a connection tells its client first.
type SessionInfo struct {
	ID      string
	Resumed bool
	// LastEventID is the position this connection starts after; "" means
	// live only.
	LastEventID string
	// Token carries the session; the transport hands it to the client.
	Token string
	// Gap is set when events after the requested position left the
	// stream: the client is told before any event.
	Gap *fanout.Gap
}

// Limits bound what clients may ask for; zero fields take the defaults of
// internal/defaults.
type Limits struct {
	MaxTopics   int // per subscription
	MaxTopicLen int // bytes per topic
	MaxEventLen int // bytes of an event type
	QueueEvents int // per-connection queue
	QueueBytes  int // per-connection queue
	ReplayBatch int // events per JetStream read
	MaxBatch    int // events per publish batch
}

func (l *Limits) setDefaults() {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&l.MaxTopics, defaults.MaxTopics)
	set(&l.MaxTopicLen, defaults.MaxTopicLen)
	set(&l.MaxEventLen, defaults.MaxEventLen)
	set(&l.QueueEvents, defaults.QueueEvents)
	set(&l.QueueBytes, defaults.QueueBytes)
	set(&l.ReplayBatch, defaults.ReplayBatch)
	set(&l.MaxBatch, defaults.MaxBatch)
}

// IsControlType reports whether an event type is reserved for the edge's
// own events: jetsse's control events (session, gap, takeover, reauth and
// end, and any type starting with "jetsse", kept for later ones) and the
// names EventSource itself dispatches on connection changes (open, error).
// Control events never carry an id:. A publisher cannot use these types:
// Publish refuses them, and an event published over NATS with one is
// delivered without its type (see docs/protocol.md).
func IsControlType(t string) bool {
	switch t {
	case "session", "gap", "takeover", "reauth", "end", "open", "error":
		return true
	}
	return strings.HasPrefix(t, "jetsse")
}
