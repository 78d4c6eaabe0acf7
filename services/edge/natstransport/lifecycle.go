// Package natstransport publishes jetsse's session lifecycle events on NATS:
// one message per event on <prefix>.<kind>.<session ID>, its body the
// protojson of jetssev1.SessionLifecycleEvent (proto field names), as
// docs/protocol.md ("Sessions for operators and backends") says. Publishing
// is core NATS, fire and forget: a backend that must not miss one captures
// the subjects in a stream of its own.
package natstransport

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/services/edge"
)

// DefaultPrefix is the subjects' prefix unless configured
// (--lifecycle-prefix).
const DefaultPrefix = "jetsse.sessions"

// Publisher publishes lifecycle events; it implements edge.Lifecycle. It
// is safe for concurrent use and never blocks on the network (nats.go
// buffers; a full buffer drops the event, which is logged now and then).
type Publisher struct {
	nc     *nats.Conn
	prefix string
	logger *slog.Logger
	warn   rate.Sometimes
}

var _ edge.Lifecycle = (*Publisher)(nil)

// NewPublisher returns a Publisher on nc under prefix ("" for
// DefaultPrefix).
func NewPublisher(nc *nats.Conn, prefix string, logger *slog.Logger) *Publisher {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{nc: nc, prefix: prefix, logger: logger, warn: rate.Sometimes{Interval: 30 * time.Second}}
}

// Subject is where an event of kind for session id is published.
func (p *Publisher) Subject(kind, id string) string { return p.prefix + "." + kind + "." + id }

// Announce implements edge.Lifecycle.
func (p *Publisher) Announce(ev edge.LifecycleEvent) {
	b, err := Encode(ev)
	if err == nil {
		err = p.nc.Publish(p.Subject(ev.Kind, ev.Session), b)
	}
	if err != nil {
		p.warn.Do(func() {
			p.logger.Warn("publishing a session lifecycle event", "kind", ev.Kind, "session", ev.Session, "err", err)
		})
	}
}

// Encode returns an event's message body.
func Encode(ev edge.LifecycleEvent) ([]byte, error) {
	m := &jetssev1.SessionLifecycleEvent{
		Kind: ev.Kind, Session: ev.Session, Identity: ev.Subject, Topics: ev.Topics, Node: ev.Node,
		Reconnects: ev.Reconnects, Time: ev.Time.UTC().Format(time.RFC3339Nano),
	}
	if ev.HasPosition {
		m.Position = strconv.FormatUint(ev.Position, 10)
	}
	if ev.Gap != nil {
		m.Gap = &jetssev1.GapEvent{
			LastEventId:    strconv.FormatUint(ev.Gap.After, 10),
			FirstAvailable: strconv.FormatUint(ev.Gap.First, 10),
		}
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	// protojson varies its whitespace on purpose: compact it.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
