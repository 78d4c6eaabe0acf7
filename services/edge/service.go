// Package edge is the jetsse HTTP edge as a go-kit service: publishing
// events, opening resumable SSE streams for sessions (identity, position,
// gap detection, takeover) and health. The HTTP transport lives in
// transport_http.go; the JetStream and live-path mechanics in pkg/eventlog
// and pkg/fanout.
package edge

import (
	"context"
	"strings"
	"time"

	"github.com/jetsse/jetsse/pkg/fanout"
)

// Service is what the edge offers, whatever the transport.
type Service interface {
	// Publish stores one event and returns its event ID.
	Publish(ctx context.Context, req PublishRequest) (PublishResponse, error)
	// Subscribe resolves the session and starting position of a new
	// connection and returns its Stream. The caller must Close the stream.
	Subscribe(ctx context.Context, req SubscribeRequest) (*Stream, error)
	// Ready returns nil when JetStream is reachable, the stream exists and
	// the live path runs.
	Ready(ctx context.Context) error
}

// PublishRequest is the body of POST /publish.
type PublishRequest struct {
	Topic string `json:"topic"`
	Event string `json:"event,omitempty"`
	Data  string `json:"data"`
	// ID, when set, is the Nats-Msg-Id: a retried publish with the same ID
	// within the de-duplication window is stored once.
	ID string `json:"msg_id,omitempty"`
}

// PublishResponse answers a publish with the new event's ID.
type PublishResponse struct {
	ID string `json:"id"`
}

// SubscribeRequest describes a new SSE connection.
type SubscribeRequest struct {
	Topics []string
	// LastEventID is the client's position (Last-Event-ID header or
	// lastEventId query parameter) when HasLastEventID is set.
	LastEventID    string
	HasLastEventID bool
	// Token is the session token presented (header or cookie), or "".
	Token string
}

// SessionInfo is what a connection tells its client first.
type SessionInfo struct {
	ID      string `json:"session"`
	Resumed bool   `json:"resumed"`
	// LastEventID is the position this connection starts after; "" means
	// live only.
	LastEventID string `json:"last_event_id"`
	// Token carries the session; it is sent as a cookie and a header, never
	// in the stream.
	Token string `json:"-"`
	// Gap is set when events after the requested position were evicted.
	Gap *Gap `json:"-"`
}

// Gap tells a client that events after LastEventID and before
// FirstAvailable can no longer be delivered.
type Gap struct {
	LastEventID    string `json:"last_event_id"`
	FirstAvailable string `json:"first_available"`
}

// Limits bound what clients may ask for.
type Limits struct {
	MaxTopics   int           // per subscription (default 32)
	MaxTopicLen int           // bytes per topic (default 256)
	MaxEventLen int           // bytes of an event type (default 256)
	QueueEvents int           // per-connection queue (default 1024)
	QueueBytes  int           // per-connection queue (default 8 MiB)
	ReplayBatch int           // events per JetStream read (default 1000)
	Retry       time.Duration // base reconnect delay sent as retry: (default 2s)
}

func (l *Limits) setDefaults() {
	if l.MaxTopics <= 0 {
		l.MaxTopics = 32
	}
	if l.MaxTopicLen <= 0 {
		l.MaxTopicLen = 256
	}
	if l.MaxEventLen <= 0 {
		l.MaxEventLen = 256
	}
	if l.QueueEvents <= 0 {
		l.QueueEvents = 1024
	}
	if l.QueueBytes <= 0 {
		l.QueueBytes = 8 << 20
	}
	if l.ReplayBatch <= 0 {
		l.ReplayBatch = 1000
	}
	if l.Retry <= 0 {
		l.Retry = 2 * time.Second
	}
}

// control frames are written like events but carry no event ID.
func controlEvent(frame []byte) *fanout.Event { return &fanout.Event{Frame: frame} }

// IsControlType reports whether an event type is reserved for the edge's
// own events: jetsse's control events (session, gap, takeover, reauth and
// end, and any type starting with "jetsse", kept for later ones) and the
// names EventSource itself dispatches on connection changes (open, error).
// Control events never carry an id:. A publisher cannot use these types:
// POST /publish refuses them, and an event published over NATS with one is
// delivered without its type (see docs/protocol.md).
func IsControlType(t string) bool {
	switch t {
	case "session", "gap", "takeover", "reauth", "end", "open", "error":
		return true
	}
	return strings.HasPrefix(t, "jetsse")
}
