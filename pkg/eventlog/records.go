package eventlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Record is a session's state in the sessions bucket: who holds it, where
// it is, whose it is and what it subscribes to. The bucket entry exists
// while the session does: it is rewritten while a connection is attached
// and expires --session-ttl after the last write, which a detach makes. A
// session's durable consumer (sse-<id>) is created when it detaches.
type Record struct {
	// Claim names the attached connection that holds the session
	// ("node/connection"), or is "" while the session is detached.
	Claim    string
	Position uint64
	Created  time.Time
	// Reconnects counts the connections after the first.
	Reconnects uint64
	// Subject is the identity the session belongs to ("" for anonymous).
	Subject string
	Topics  []string
}

// The value format is one line: "v2 <claim or -> <position> <created unix
// ms> <reconnects> <subject, base64url, or -> <topics as JSON>". The claim
// comes first so watchers can read it without decoding the rest. Records
// of the first format ("v1 <claim> <position> <created> <topics>") still
// decode.
func (r Record) encode() []byte {
	claim := r.Claim
	if claim == "" {
		claim = "-"
	}
	subject := "-"
	if r.Subject != "" {
		subject = base64.RawURLEncoding.EncodeToString([]byte(r.Subject))
	}
	tj := topicsJSON(r.Topics)
	b := make([]byte, 0, 96+len(claim)+len(subject)+len(tj))
	b = append(b, "v2 "...)
	b = append(b, claim...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, r.Position, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.Created.UnixMilli(), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, r.Reconnects, 10)
	b = append(b, ' ')
	b = append(b, subject...)
	b = append(b, ' ')
	return append(b, tj...)
}

// topicsJSON is the topics as a JSON array, without escaping "<", ">" and
// "&" ("orders.>" stays as it is).
func topicsJSON(topics []string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(topics)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// MaxRecordSize is the largest session record for subscriptions of at most
// maxTopics topics of maxTopicLen bytes: the session bucket refuses larger
// values.
func MaxRecordSize(maxTopics, maxTopicLen int) int {
	// Version, claim (node ID and connection), position, created,
	// reconnects and the subject (base64 of at most 256 bytes), then each
	// topic quoted with every byte possibly escaped.
	return 1024 + maxTopics*(2*maxTopicLen+3)
}

var errBadRecord = errors.New("eventlog: malformed session record")

func decodeRecord(b []byte) (Record, error) {
	version, rest, _ := bytes.Cut(b, []byte{' '})
	fields := 4 // v1: claim, position, created, topics
	if string(version) == "v2" {
		fields = 6 // v2: claim, position, created, reconnects, subject, topics
	} else if string(version) != "v1" {
		return Record{}, errBadRecord
	}
	f := bytes.SplitN(rest, []byte{' '}, fields)
	if len(f) != fields {
		return Record{}, errBadRecord
	}
	var r Record
	if string(f[0]) != "-" {
		r.Claim = string(f[0])
	}
	var err error
	if r.Position, err = strconv.ParseUint(string(f[1]), 10, 64); err != nil {
		return Record{}, errBadRecord
	}
	ms, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil {
		return Record{}, errBadRecord
	}
	r.Created = time.UnixMilli(ms)
	if fields == 6 {
		if r.Reconnects, err = strconv.ParseUint(string(f[3]), 10, 64); err != nil {
			return Record{}, errBadRecord
		}
		if string(f[4]) != "-" {
			sub, err := base64.RawURLEncoding.DecodeString(string(f[4]))
			if err != nil {
				return Record{}, errBadRecord
			}
			r.Subject = string(sub)
		}
	}
	if err := json.Unmarshal(f[fields-1], &r.Topics); err != nil {
		return Record{}, errBadRecord
	}
	return r, nil
}

// claimOf returns the claim field of an encoded record without decoding it.
func claimOf(b []byte) string {
	_, rest, _ := bytes.Cut(b, []byte{' '})
	if i := bytes.IndexByte(rest, ' '); i >= 0 {
		rest = rest[:i]
	}
	if string(rest) == "-" {
		return ""
	}
	return string(rest)
}

// ErrLostClaim: the session was claimed by another connection since the
// revision the caller holds.
var ErrLostClaim = errors.New("eventlog: session claimed by a newer connection")

// GetSession returns a session's record and its revision, or
// ErrSessionNotFound. It is one direct get: no JetStream API request.
func (l *Log) GetSession(ctx context.Context, id string) (Record, uint64, error) {
	start := time.Now()
	e, err := l.kv.Get(ctx, id)
	l.observe("record_get", start, err)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, 0, ErrSessionNotFound
	}
	if err != nil {
		return Record{}, 0, fmt.Errorf("%w: read session: %v", ErrUnavailable, err)
	}
	r, err := decodeRecord(e.Value())
	if err != nil {
		return Record{}, 0, ErrSessionNotFound
	}
	return r, e.Revision(), nil
}

// Claim writes a session's record for a connection that attaches to it and
// returns the revision. Revisions order claims across all edge nodes: of
// two claims for one session, the higher revision is the newer connection.
func (l *Log) Claim(ctx context.Context, id string, r Record) (uint64, error) {
	start := time.Now()
	rev, err := l.writeRecord(ctx, id, r.encode(), false, 0)
	l.observe("record_put", start, err)
	if err != nil {
		return 0, fmt.Errorf("%w: claim session: %v", ErrUnavailable, err)
	}
	return rev, nil
}

// UpdateSession rewrites a session's record if it is still at revision
// rev, and returns the new revision. It returns ErrLostClaim when another
// connection claimed the session in between.
func (l *Log) UpdateSession(ctx context.Context, id string, r Record, rev uint64) (uint64, error) {
	start := time.Now()
	nrev, err := l.writeRecord(ctx, id, r.encode(), true, rev)
	l.observe("record_update", start, err)
	// A revision mismatch: 10071, or 10164 from a replicated bucket.
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return 0, ErrLostClaim
	}
	if err != nil {
		return 0, fmt.Errorf("%w: update session: %v", ErrUnavailable, err)
	}
	return nrev, nil
}

// writeRecord stores a session's record as the bucket's Put (cas false)
// or Update (cas true: only if the record is at revision rev, 0 meaning
// absent) do, and returns its revision. It goes through the records'
// acknowledgement inbox, as publishes do: the bucket's Put and Update are
// nats.go request/replies, with a response entry, a context and a JSON
// decode each, which the checkpoints of thousands of attached sessions pay
// continuously.
func (l *Log) writeRecord(ctx context.Context, id string, value []byte, cas bool, rev uint64) (uint64, error) {
	m := &nats.Msg{Subject: "$KV." + l.cfg.SessionBucket + "." + id, Data: value}
	if cas {
		m.Header = nats.Header{jetstream.ExpectedLastSubjSeqHeader: {strconv.FormatUint(rev, 10)}}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(publishTimeout)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var out [1]Published
	// Retried while no stream answers (a leader election), as nats.go's
	// Put and Update do.
	for attempt := 0; ; attempt++ {
		l.recordAcks.send(ctx, timer.C, []*nats.Msg{m}, []int{0}, out[:])
		if !errors.Is(out[0].Err, nats.ErrNoResponders) || attempt == publishRetryAttempts ||
			time.Until(deadline) < publishRetryWait {
			return out[0].Seq, out[0].Err
		}
		wait := time.NewTimer(publishRetryWait)
		select {
		case <-ctx.Done():
			wait.Stop()
			return 0, ctx.Err()
		case <-wait.C:
		}
	}
}

// ClaimEvent is one write to a session's record seen by WatchClaims.
type ClaimEvent struct {
	SessionID string
	// Claim is the connection holding the session; "" when it was
	// detached, ClaimEnded when an operator ended it.
	Claim    string
	Revision uint64
	// Record is the record written, when it was detached (Claim "") and
	// could be decoded (HasRecord); zero otherwise.
	Record    Record
	HasRecord bool
}

// WatchClaims calls fn, in revision order, for writes to session records
// made from now on by any node, until ctx ends. A write superseded before
// it was read may be skipped (the bucket keeps one revision per session);
// the newest is always seen. ready (if not nil) is called once the watch
// is established.
func (l *Log) WatchClaims(ctx context.Context, ready func(), fn func(ClaimEvent)) error {
	w, err := l.kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("%w: watch sessions: %v", ErrUnavailable, err)
	}
	defer w.Stop()
	if ready != nil {
		ready()
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
				return errors.New("eventlog: session watch ended")
			}
			if e == nil {
				continue
			}
			ev := ClaimEvent{SessionID: e.Key(), Claim: claimOf(e.Value()), Revision: e.Revision()}
			if ev.Claim == "" {
				// Only a detached record is wanted whole; the others
				// (checkpoints, mostly) are read for their claim alone.
				r, err := decodeRecord(e.Value())
				ev.Record, ev.HasRecord = r, err == nil
			}
			fn(ev)
		}
	}
}

// CountSessions returns how many sessions exist (records in the bucket).
func (l *Log) CountSessions(ctx context.Context) (uint64, error) {
	start := time.Now()
	st, err := l.kv.Status(ctx)
	l.observe("bucket_info", start, err)
	if err != nil {
		return 0, fmt.Errorf("%w: session bucket: %v", ErrUnavailable, err)
	}
	return st.Values(), nil
}
