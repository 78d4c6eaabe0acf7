package eventlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Event is one event to publish.
type Event struct {
	Topic string
	Type  string // the SSE event type ("" for none)
	Data  []byte
	// MsgID, when non-empty, is the Nats-Msg-Id: a duplicate within the
	// stream's window is not stored again, and gets the original's ID.
	MsgID string
}

// Published is the outcome of publishing one event of a batch: its event
// ID (stream sequence), or why it was not stored.
type Published struct {
	Seq uint64
	Err error
}

// EventError says which event of a batch an error is about (its index).
type EventError struct {
	Index int
	Err   error
}

func (e *EventError) Error() string { return fmt.Sprintf("event %d: %v", e.Index, e.Err) }
func (e *EventError) Unwrap() error { return e.Err }

// How long a publish waits for JetStream's acknowledgement when its
// context has no deadline, and how it retries while no stream answers (a
// leader election): as nats.go's jetstream.PublishMsg does.
const (
	publishTimeout       = 5 * time.Second
	publishRetryWait     = 250 * time.Millisecond
	publishRetryAttempts = 2
)

// Publish stores one event and returns its event ID (stream sequence).
// msgID, when non-empty, de-duplicates within the stream's window: a
// duplicate returns the original's sequence. An event that can never be
// stored (see ErrTooLarge) is refused before it reaches the stream. It
// returns only once JetStream acknowledged the event as stored.
func (l *Log) Publish(ctx context.Context, topic, eventType string, data []byte, msgID string) (uint64, error) {
	var one [1]Published
	if err := l.publish(ctx, []Event{{Topic: topic, Type: eventType, Data: data, MsgID: msgID}}, one[:]); err != nil {
		return 0, errors.Unwrap(err) // the EventError of event 0
	}
	return one[0].Seq, one[0].Err
}

// PublishBatch publishes events in order, pipelined: every event is sent
// before any acknowledgement is awaited, so a batch costs one round trip
// to JetStream, and JetStream stores them in this order. It returns one
// Published per event, in order, once each is acknowledged or has failed
// (or ctx ended: those not acknowledged by then fail with ErrUnavailable;
// they may still be stored). Events are stored independently: one refused
// does not keep the others out.
//
// If an event can never be stored (ErrTooLarge, checked against the
// stream's limits as last read), PublishBatch publishes nothing and returns
// an *EventError naming it.
func (l *Log) PublishBatch(ctx context.Context, events []Event) ([]Published, error) {
	out := make([]Published, len(events))
	if err := l.publish(ctx, events, out); err != nil {
		return nil, err
	}
	return out, nil
}

// publish publishes events, filling out (len(events)); see PublishBatch.
func (l *Log) publish(ctx context.Context, events []Event, out []Published) error {
	msgs := make([]*nats.Msg, len(events))
	for i, e := range events {
		m, ok := l.message(e)
		if !ok {
			return &EventError{Index: i, Err: ErrTooLarge}
		}
		msgs[i] = m
	}
	start := time.Now()
	// A timer rather than a context with a deadline: that would cost a
	// context, a timer and a registration with the parent per request.
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = start.Add(publishTimeout)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	todo := make([]int, len(msgs)) // indices still to publish
	for i := range todo {
		todo[i] = i
	}
	for attempt := 0; ; attempt++ {
		l.acks.send(ctx, timer.C, msgs, todo, out)
		// Retry the events no stream answered, if they are the last ones
		// sent (a retry then keeps the batch's order in the stream).
		first := -1
		for _, i := range todo {
			if errors.Is(out[i].Err, nats.ErrNoResponders) {
				if first < 0 {
					first = i
				}
			} else if first >= 0 {
				first = -2 // a later event was answered: no retry
				break
			}
		}
		if first < 0 || attempt == publishRetryAttempts || time.Until(deadline) < publishRetryWait {
			break
		}
		wait := time.NewTimer(publishRetryWait)
		select {
		case <-ctx.Done():
		case <-wait.C:
		}
		wait.Stop()
		if ctx.Err() != nil {
			break
		}
		todo = todo[:0]
		for i := first; i < len(msgs); i++ {
			todo = append(todo, i)
		}
	}
	for i := range out {
		l.observe("publish", start, out[i].Err)
		out[i].Err = publishError(out[i].Err)
	}
	return nil
}

// message makes the NATS message of an event, or reports that the event
// can never be stored.
func (l *Log) message(e Event) (*nats.Msg, bool) {
	msg := &nats.Msg{Subject: l.Subject(e.Topic), Data: e.Data}
	// The stream refuses a message that another stream would take (a
	// stream recreated by hand with other subjects).
	hdr := len(jetstream.ExpectedStreamHeader) + len(l.cfg.Stream) + 4 + len("NATS/1.0\r\n\r\n")
	if e.Type == "" && e.MsgID == "" {
		msg.Header = l.plainHeader // shared: nats.go only reads it
		return msg, l.fits(msg.Subject, hdr, len(e.Data))
	}
	msg.Header = nats.Header{jetstream.ExpectedStreamHeader: {l.cfg.Stream}}
	if e.Type != "" {
		msg.Header[HeaderEventType] = []string{e.Type}
		hdr += len(HeaderEventType) + len(e.Type) + 4
	}
	if e.MsgID != "" {
		msg.Header[HeaderMsgID] = []string{e.MsgID}
		hdr += len(HeaderMsgID) + len(e.MsgID) + 4
	}
	return msg, l.fits(msg.Subject, hdr, len(e.Data))
}

// publishError maps a publish's error to the package's errors.
func publishError(err error) error {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrMaxPayload) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
		return ErrTooLarge
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("eventlog: publish: %w", err)
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

// acks routes JetStream's publish acknowledgements to the publishes that
// wait for them: every publish of the Log carries a reply subject under
// one inbox, on which one subscription listens, so a publish costs a
// message each way and no subscription, context or JSON decoder of its own
// (nats.go's request/reply takes all three per publish). It is safe for
// concurrent use.
type acks struct {
	nc     *nats.Conn
	sub    *nats.Subscription
	prefix string // "<inbox>."
	stream string // the stream every acknowledgement must name

	mu      sync.Mutex
	next    uint64
	waiting map[uint64]waiter
}

// A waiter is where the acknowledgement of one publish goes: slot i of a
// batch's channel, which has room for every publish of the batch.
type waiter struct {
	ch chan<- ackResult
	i  int
}

type ackResult struct {
	i   int
	seq uint64
	err error
}

// startAcks subscribes to the acknowledgements' inbox. The subscription
// lasts as long as nc.
func startAcks(nc *nats.Conn, stream string) (*acks, error) {
	a := &acks{nc: nc, prefix: nc.NewInbox() + ".", stream: stream, waiting: map[uint64]waiter{}}
	var err error
	if a.sub, err = nc.Subscribe(a.prefix+"*", a.deliver); err != nil {
		return nil, err
	}
	// One acknowledgement per publish in flight: no more arrive than
	// were asked for, so the subscription never drops them as a slow
	// consumer would.
	if err := a.sub.SetPendingLimits(-1, -1); err != nil {
		_ = a.sub.Unsubscribe()
		return nil, err
	}
	return a, nil
}

// send publishes msgs[i] for every i in todo and waits for their
// acknowledgements, until ctx ends or timeout fires, recording each
// outcome in out[i].
func (a *acks) send(ctx context.Context, timeout <-chan time.Time, msgs []*nats.Msg, todo []int, out []Published) {
	ch := make(chan ackResult, len(todo))
	ids := make([]uint64, 0, len(todo))
	a.mu.Lock()
	for range todo {
		a.next++
		ids = append(ids, a.next)
	}
	for k, i := range todo {
		a.waiting[ids[k]] = waiter{ch, i}
	}
	a.mu.Unlock()
	pending := len(todo)
	for k, i := range todo {
		msgs[i].Reply = a.prefix + strconv.FormatUint(ids[k], 36)
		if err := a.nc.PublishMsg(msgs[i]); err != nil {
			if a.forget(ids[k]) {
				out[i].Err = err
				pending--
			}
		}
	}
	for ; pending > 0; pending-- {
		select {
		case r := <-ch:
			out[r.i] = Published{Seq: r.seq, Err: r.err}
		case <-ctx.Done():
			a.abandon(ids, todo, out, ctx.Err(), ch, pending)
			return
		case <-timeout:
			a.abandon(ids, todo, out, context.DeadlineExceeded, ch, pending)
			return
		}
	}
}

// abandon stops waiting for the publishes ids (of events todo), pending of
// which are not yet in out: those still waiting fail with err; those whose
// acknowledgement deliver already took are received from ch.
func (a *acks) abandon(ids []uint64, todo []int, out []Published, err error, ch <-chan ackResult, pending int) {
	a.mu.Lock()
	for k, i := range todo {
		if _, ok := a.waiting[ids[k]]; ok {
			delete(a.waiting, ids[k])
			out[i] = Published{Err: err}
			pending--
		}
	}
	a.mu.Unlock()
	for ; pending > 0; pending-- {
		r := <-ch // deliver is sending it
		out[r.i] = Published{Seq: r.seq, Err: r.err}
	}
}

// forget stops waiting for id; false if its acknowledgement was already
// taken for delivery.
func (a *acks) forget(id uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.waiting[id]
	delete(a.waiting, id)
	return ok
}

// deliver hands an acknowledgement to its publish (the subscription's
// handler).
func (a *acks) deliver(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[len(a.prefix):], 36, 64)
	if err != nil {
		return
	}
	a.mu.Lock()
	w, ok := a.waiting[id]
	delete(a.waiting, id)
	a.mu.Unlock()
	if !ok {
		return // given up on
	}
	seq, err := a.parse(m)
	w.ch <- ackResult{i: w.i, seq: seq, err: err}
}

// parse reads a publish acknowledgement: JetStream's PubAck
// {"stream":"EVENTS","seq":42} (read here without a JSON decoder), an API
// error, or the no-responders status when no stream took the subject.
func (a *acks) parse(m *nats.Msg) (uint64, error) {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return 0, nats.ErrNoResponders
	}
	d := m.Data
	if rest, ok := bytes.CutPrefix(d, []byte(`{"stream":"`)); ok {
		if rest, ok = bytes.CutPrefix(rest, []byte(a.stream)); ok {
			if rest, ok = bytes.CutPrefix(rest, []byte(`","seq":`)); ok {
				n := 0
				for n < len(rest) && n < 20 && rest[n] >= '0' && rest[n] <= '9' {
					n++
				}
				tail := rest[n:]
				if n > 0 && (string(tail) == "}" || string(tail) == `,"duplicate":true}`) {
					if seq, err := strconv.ParseUint(string(rest[:n]), 10, 64); err == nil && seq > 0 {
						return seq, nil
					}
				}
			}
		}
	}
	var ack struct {
		Error  *jetstream.APIError `json:"error"`
		Stream string              `json:"stream"`
		Seq    uint64              `json:"seq"`
	}
	if err := json.Unmarshal(d, &ack); err != nil {
		return 0, jetstream.ErrInvalidJSAck
	}
	switch {
	case ack.Error != nil:
		return 0, fmt.Errorf("nats: %w", ack.Error)
	case ack.Stream != a.stream:
		return 0, fmt.Errorf("%w: acknowledged by stream %q", jetstream.ErrInvalidJSAck, ack.Stream)
	}
	return ack.Seq, nil
}
