package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Msg is one stored event.
type Msg struct {
	Seq     uint64
	Subject string
	Type    string // the Sse-Event header
	Data    []byte
	Time    time.Time // when JetStream stored it
}

type directBatchRequest struct {
	Seq      uint64 `json:"seq"`
	NextFor  string `json:"next_by_subj,omitempty"`
	Batch    int    `json:"batch"`
	MaxBytes int    `json:"max_bytes,omitempty"`
	UpToSeq  uint64 `json:"up_to_seq,omitempty"`
}

// ReadBatch reads up to max stored events with IDs above after, in order,
// on subjects matching filter (a subject with wildcards; "" means the whole
// stream), using one batched direct get (stateless: no consumer involved).
// maxBytes bounds the batch's payload (0: 4 MiB).
//
// It is written here rather than with orbit.go's jetstreamext.GetBatch,
// which does the same request: GetBatch replayed half as many events a
// second (docs/architecture.md, "Replay").
//
// more is false when no further matching event existed when the server
// answered, so a caller that got more == false has read everything up to
// the stream's end at that moment.
func (l *Log) ReadBatch(ctx context.Context, after uint64, filter string, max, maxBytes int) (msgs []Msg, more bool, err error) {
	if filter == "" {
		filter = l.cfg.Prefix + ".>"
	}
	if maxBytes <= 0 {
		maxBytes = 4 << 20
	}
	req, _ := json.Marshal(directBatchRequest{Seq: after + 1, NextFor: filter, Batch: max, MaxBytes: maxBytes})

	inbox := nats.NewInbox()
	ch := make(chan *nats.Msg, max+1)
	sub, err := l.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	if err := l.nc.PublishRequest("$JS.API.DIRECT.GET."+l.cfg.Stream, inbox, req); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	msgs = make([]Msg, 0, min(max, 256))
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return msgs, false, fmt.Errorf("%w: direct get: %v", ErrUnavailable, ctx.Err())
		}
		msg, status, err := directReply(m)
		switch {
		case err != nil:
			return msgs, false, err
		case status == "404": // nothing at or after the start
			return msgs, false, nil
		case status == "204": // end of batch
			np, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return msgs, np > 0, nil
		}
		msgs = append(msgs, msg)
	}
}

// directReply decodes one message of a direct get's answer: an event, or
// the status that ends the answer ("404": no event at or after the start;
// "204": the end of a batch). Any other status is an error.
func directReply(m *nats.Msg) (msg Msg, status string, err error) {
	switch status = m.Header.Get("Status"); status {
	case "":
	case "404", "204":
		return Msg{}, status, nil
	default:
		return Msg{}, status, fmt.Errorf("%w: direct get: %s %s", ErrUnavailable, status, m.Header.Get("Description"))
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil || seq == 0 {
		return Msg{}, "", fmt.Errorf("%w: direct get: bad sequence header %q", ErrUnavailable, m.Header.Get(jetstream.SequenceHeader))
	}
	at, err := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	if err != nil {
		return Msg{}, "", fmt.Errorf("%w: direct get: bad time header: %v", ErrUnavailable, err)
	}
	return Msg{
		Seq:     seq,
		Subject: m.Header.Get(jetstream.SubjectHeader),
		Type:    m.Header.Get(HeaderEventType),
		Data:    m.Data,
		Time:    at,
	}, "", nil
}
