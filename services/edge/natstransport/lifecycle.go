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

// Encode returns an event's message body: the protojson of
// jetssev1.SessionLifecycleEvent, compact, every field present. Events
// whose strings are printable ASCII without quotes or backslashes (session
// IDs, node IDs and topics always are; identities mostly) are written
// directly, byte for byte what protojson writes (FuzzEncode holds it to
// that); any other goes through protojson.
func Encode(ev edge.LifecycleEvent) ([]byte, error) {
	if plainEvent(ev) {
		return appendEvent(make([]byte, 0, 256), ev), nil
	}
	return encodeProto(ev)
}

func encodeProto(ev edge.LifecycleEvent) ([]byte, error) {
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

// plainEvent reports whether every string of ev is plain (see plain).
func plainEvent(ev edge.LifecycleEvent) bool {
	if !plain(ev.Kind) || !plain(ev.Session) || !plain(ev.Subject) || !plain(ev.Node) {
		return false
	}
	for _, t := range ev.Topics {
		if !plain(t) {
			return false
		}
	}
	return true
}

// plain reports whether s is printable ASCII without quotes or
// backslashes: a JSON string that needs no escaping.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendEvent appends ev as encodeProto writes it, for a plain ev: the
// fields in their .proto order.
func appendEvent(b []byte, ev edge.LifecycleEvent) []byte {
	b = appendField(b, `{"kind":"`, ev.Kind)
	b = appendField(b, `","session":"`, ev.Session)
	b = appendField(b, `","identity":"`, ev.Subject)
	b = append(b, `","topics":[`...)
	for i, t := range ev.Topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendField(b, `"`, t)
		b = append(b, '"')
	}
	b = appendField(b, `],"node":"`, ev.Node)
	b = append(b, `","position":"`...)
	if ev.HasPosition {
		b = strconv.AppendUint(b, ev.Position, 10)
	}
	b = append(b, `","reconnects":"`...)
	b = strconv.AppendUint(b, ev.Reconnects, 10)
	b = append(b, `","time":"`...)
	b = ev.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","gap":`...)
	if ev.Gap == nil {
		return append(b, "null}"...)
	}
	b = append(b, `{"last_event_id":"`...)
	b = strconv.AppendUint(b, ev.Gap.After, 10)
	b = append(b, `","first_available":"`...)
	b = strconv.AppendUint(b, ev.Gap.First, 10)
	return append(b, `"}}`...)
}

func appendField(b []byte, prefix, v string) []byte {
	return append(append(b, prefix...), v...)
}
