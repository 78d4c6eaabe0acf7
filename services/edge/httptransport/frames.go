package httptransport

import (
	"errors"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/pkg/sse"
	"github.com/jetsse/jetsse/services/edge"
)

// The frames of an event stream, and the rules for how one starts, idles
// and ends. Both write paths use them: the handler's own goroutine and the
// pooled writer (Lite).

// appendStart appends what a stream says first: when to reconnect (retry:,
// with jitter), the session event, and the gap event if events after the
// start position left the stream.
func appendStart(b []byte, s edge.SessionInfo, retry time.Duration) []byte {
	b = sse.AppendRetry(b, jitter(retry))
	b = sse.AppendEvent(b, sse.Event{Type: "session", Data: appendWire(nil, &jetssev1.SessionEvent{
		Session: s.ID, Resumed: s.Resumed, LastEventId: s.LastEventID,
	})})
	if s.Gap != nil {
		b = appendGap(b, *s.Gap)
	}
	return b
}

// appendEvents appends the frames of events: an event's shared frame, or
// the gap event a gap marker stands for.
func appendEvents(b []byte, events []*fanout.Event) []byte {
	for _, ev := range events {
		if ev.Gap != nil {
			b = appendGap(b, *ev.Gap)
		} else {
			b = append(b, ev.Frame...)
		}
	}
	return b
}

func appendGap(b []byte, g fanout.Gap) []byte {
	return sse.AppendEvent(b, sse.Event{Type: "gap", Data: appendWire(nil, &jetssev1.GapEvent{
		LastEventId: strconv.FormatUint(g.After, 10), FirstAvailable: strconv.FormatUint(g.First, 10),
	})})
}

// appendHeartbeat appends the comment an idle stream sends every heartbeat.
func appendHeartbeat(b []byte) []byte { return sse.AppendComment(b, "") }

// appendEnd appends what a stream that ended with err tells its client
// before the connection closes: a takeover event (a newer connection has
// the session; the client must not fight back), or when to come back
// (retry:, with jitter, so clients spread out) after a drain or a stream
// that was made again, or the reauth event when the token the connection
// was opened with expired (with a longer retry:, time for the page to
// renew the token before EventSource comes back on its own), or the end
// event when an operator ended the session (EventSource reconnects, and
// gets 204 No Content, which stops it). A client that fell behind or went away is told
// nothing.
func appendEnd(b []byte, err error, sessionID string, retry time.Duration) []byte {
	switch {
	case errors.Is(err, edge.ErrTakenOver):
		return sse.AppendEvent(b, sse.Event{Type: "takeover", Data: appendWire(nil, &jetssev1.TakeoverEvent{Session: sessionID})})
	case errors.Is(err, edge.ErrDraining), errors.Is(err, edge.ErrStreamReset):
		return sse.AppendRetry(b, jitter(retry))
	case errors.Is(err, edge.ErrReauth):
		return appendReauth(sse.AppendRetry(b, jitter(max(retry, minReauthRetry))))
	case errors.Is(err, edge.ErrEnded):
		return sse.AppendEvent(b, sse.Event{Type: "end", Data: appendWire(nil, &jetssev1.EndEvent{
			Session: sessionID, Reason: "ended by an operator",
		})})
	}
	return b
}

// appendReauth appends the reauth event: the connection's token expired,
// and the client must come back with a fresh one.
func appendReauth(b []byte) []byte {
	return sse.AppendEvent(b, sse.Event{Type: "reauth", Data: appendWire(nil, &jetssev1.ReauthEvent{Reason: "token expired"})})
}

// jitter returns d ± 50%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + mrand.N(d)
}
