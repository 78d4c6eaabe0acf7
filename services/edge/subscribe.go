package edge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/session"
	"github.com/jetsse/jetsse/pkg/sse"
	"github.com/jetsse/jetsse/pkg/topic"
)

// localPosition returns the position this node holds for a session: its
// attached connection's, or its detachment's not yet stored.
func (e *edge) localPosition(id string) (pos uint64, ok bool) {
	e.reg.locked(id, func(st *Stream) {
		if st != nil {
			pos, ok = st.ackedPosition(), true
		} else {
			pos, ok = e.recorder.pendingPosition(id)
		}
	})
	return pos, ok
}

// Subscribe implements Service: it resolves the session (resume it, or
// create one), the position the connection starts after (Last-Event-ID,
// else the session's stored position, else live), whether events after it
// left the stream (gap), and claims the session for this connection. The
// request is validated in full before anything is kept for it.
//
// A session whose record this node knows (see knownRecord) is claimed
// without reading its record first; if the record was written since, the
// claim finds out and the connection is made again from the record.
func (e *edge) Subscribe(ctx context.Context, req SubscribeRequest) (*Stream, error) {
	st, err := e.subscribe(ctx, req, nil)
	var changed *recordChanged
	if errors.As(err, &changed) {
		st, err = e.subscribe(ctx, req, changed)
	}
	return st, err
}

// recordChanged: a session's record was written after the revision a
// connection was made from. If that was the record of a connection
// attached here, which the new one has since taken over, position is what
// that connection's client surely had, which the node no longer holds.
type recordChanged struct {
	position uint64
	local    bool
}

func (*recordChanged) Error() string { return "edge: session record written since" }

// subscribe is Subscribe; retry is nil the first time, else why the
// connection is made again (the record is then read).
func (e *edge) subscribe(ctx context.Context, req SubscribeRequest, retry *recordChanged) (*Stream, error) {
	if err := e.admit(); err != nil {
		return nil, err
	}
	var lastID uint64
	if req.HasLastEventID {
		var err error
		if lastID, err = sse.ParseLastEventID(req.LastEventID); err != nil {
			return nil, inputError("Last-Event-ID", err)
		}
	}
	topics, release, err := e.topics.acquire(req.Topics)
	if err != nil {
		e.countLimit(err)
		return nil, inputError("topic", err)
	}
	if t, ok := req.Principal.Subscribe.CoversAll(req.Topics); !ok {
		release()
		e.metrics.RejectedRequests.With("reason", "forbidden").Add(1)
		return nil, fmt.Errorf("%w: topic %q is not granted", ErrForbidden, t)
	}
	release, err = e.enter(req, release)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sp, err := e.start(ctx, req, lastID, retry)
	if err == nil && !sp.resumed && req.Token != "" {
		// The token's session is gone: this makes a new one.
		err = e.limited(e.adm.newSession(req.Client))
	}
	if err != nil {
		e.unclaim(sp.resolved)
		release()
		return nil, err
	}
	st, err := e.newStream(sp, req.Principal, topics, release)
	if err != nil {
		e.unclaim(sp.resolved)
		release()
		return nil, err
	}
	// From here on, Close gives the topics and the connection slot back.
	if err := e.claim(ctx, st, sp); err != nil {
		return nil, err
	}
	if sp.resumed {
		e.metrics.SessionsResumed.Add(1)
	} else {
		e.metrics.SessionsCreated.Add(1)
	}
	if sp.gap != nil {
		e.metrics.Gaps.Add(1)
	}
	return st, nil
}

// enter applies the admission limits to a connection: it takes a
// connection slot for the client, and one new session from the rates when
// the connection surely makes one (it carries no session token). It
// returns release extended to give the slot back.
func (e *edge) enter(req SubscribeRequest, release func()) (func(), error) {
	if err := e.limited(e.adm.connect(req.Client)); err != nil {
		release()
		return nil, err
	}
	// The closure holds the client's address alone, not the request.
	prev, client := release, req.Client
	release = func() {
		prev()
		e.adm.leave(client)
	}
	if req.Token == "" {
		if err := e.limited(e.adm.newSession(req.Client)); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// limited counts a limit's refusal (a *LimitError) and returns it.
func (e *edge) limited(err error) error {
	var lim *LimitError
	if errors.As(err, &lim) {
		e.metrics.LimitHits.With("limit", lim.Limit).Add(1)
	}
	return err
}

// countLimit counts a topic refused by a configured limit (too many
// topics, a topic too long).
func (e *edge) countLimit(err error) {
	var te *topic.Error
	if errors.As(err, &te) && te.Limit != "" {
		e.metrics.LimitHits.With("limit", te.Limit).Add(1)
	}
}

// admit refuses connections while the node drains or its live path starts:
// until then it cannot tell which positions its cache covers.
func (e *edge) admit() error {
	if e.draining.Load() {
		return ErrDraining
	}
	if !e.live.Running() {
		return fmt.Errorf("%w: live path starting", ErrNotReady)
	}
	return nil
}

// startPoint is where a connection starts: its session and its position.
type startPoint struct {
	resolved
	position   uint64
	startAfter string      // what the client is told ("" for live only)
	gap        *fanout.Gap // events after the client's position that left the stream
	trust      fanout.Trust
}

// start resolves a connection's session and the position it starts after:
// the client's Last-Event-ID always wins, then the session's stored
// position; a connection with neither starts live. Where the stream starts
// now (everything before was evicted) is read while the session is looked
// up, for any connection that may start before the live path's last event.
func (e *edge) start(ctx context.Context, req SubscribeRequest, lastID uint64, retry *recordChanged) (startPoint, error) {
	var first chan firstStored
	if req.HasLastEventID || req.Token != "" {
		first = make(chan firstStored, 1)
		go func() {
			f, err := e.store.FirstStored(ctx)
			first <- firstStored{f, err}
		}()
		defer func() {
			if first != nil {
				<-first
			}
		}()
	}
	sess, err := e.resolveSession(ctx, req.Token, req.Principal.Subject, retry)
	if err != nil {
		return startPoint{}, err
	}
	s := startPoint{resolved: sess, position: sess.position}
	switch {
	case req.HasLastEventID:
		s.position = lastID
	case !sess.resumed:
		// Live only: from the last event this node's live path read (every
		// event after it reaches the connection through the live path).
		s.position = e.live.Last()
		return s, nil
	}
	s.startAfter = formatID(s.position)
	f := <-first
	first = nil
	s.gap, s.position, s.trust, err = e.startAfter(ctx, s.position, f)
	return s, err
}

// newStream makes the connection's Stream: a new session gets its ID here.
func (e *edge) newStream(s startPoint, p Principal, topics *topic.Set, release func()) (*Stream, error) {
	if !s.resumed {
		sid, err := session.NewID(e.cfg.Random)
		if err != nil {
			return nil, err
		}
		s.id = sid.String()
	} else {
		s.reconnects++
	}
	sid, _ := session.ParseID(s.id)
	now := e.cfg.Now()
	st := &Stream{
		Session: SessionInfo{
			ID: s.id, Resumed: s.resumed, LastEventID: s.startAfter,
			Token: e.cfg.Keys.Sign(sid), Gap: s.gap,
		},
		svc:         e,
		subject:     p.Subject,
		reconnects:  s.reconnects,
		claim:       e.cfg.NodeID + "/" + strconv.FormatUint(e.conns.Add(1), 10),
		topics:      topics,
		release:     release,
		pos:         s.position,
		trust:       s.trust,
		created:     s.created.UnixMilli(),
		began:       now.UnixNano(),
		overlapping: topics.Overlapping(),
	}
	if ts := topics.Topics(); len(ts) == 1 {
		st.filter = e.store.Subject(ts[0])
	}
	st.acks.init(s.position, e.cfg.Now)
	if !p.Expires.IsZero() {
		st.expires = p.Expires.UnixNano()
	}
	st.written.Store(s.position)
	st.recorded.Store(s.position)
	st.recordedAt.Store(now.UnixNano())
	return st, nil
}

// claim makes st the session's one attached connection: on this node at
// once, across nodes by writing the session's record (whose revision orders
// it against other nodes' claims). A connection made from a known record
// writes only over that revision, and returns a *recordChanged if it was
// written since. On failure st is closed.
func (e *edge) claim(ctx context.Context, st *Stream, sp startPoint) error {
	e.streams.Add(1)
	e.metrics.Connections.Add(1)
	e.reg.claim(st)
	var rev uint64
	var err error
	if sp.rev != 0 {
		rev, err = e.store.UpdateSession(ctx, st.Session.ID, st.record(st.pos), sp.rev)
	} else {
		rev, err = e.store.Claim(ctx, st.Session.ID, st.record(st.pos))
	}
	if err != nil {
		st.Close()
		e.unclaim(sp.resolved)
		if errors.Is(err, eventlog.ErrLostClaim) {
			return &recordChanged{position: sp.resolved.position, local: sp.local}
		}
		e.logger.Warn("claiming session", "session", st.Session.ID, "err", err)
		return ErrUnavailable
	}
	e.recorder.attached(st.Session.ID, sp.resumed)
	e.reg.stored(st, rev)
	if st.expires != 0 {
		st.expireAt(time.Unix(0, st.expires))
	}
	kind := LifecycleCreated
	if sp.resumed {
		kind = LifecycleResumed
	}
	e.announce(kind, st, st.pos, st.Session.LastEventID != "", nil)
	if g := st.Session.Gap; g != nil {
		e.announce(LifecycleGap, st, g.After, true, g)
	}
	return nil
}

// resolved is a connection's session before it is claimed.
type resolved struct {
	id         string // "" until a new session gets its ID
	resumed    bool   // the token named a session that still exists
	position   uint64 // the session's position (if resumed)
	created    time.Time
	reconnects uint64 // connections to the session after its first
	// rev is the revision of the record the session was resolved from
	// when this node knew it (see knownRecord), else 0 (it was read);
	// reclaimed is the pending detachment handed over with it (its gen);
	// local says it was the record of a connection attached here.
	rev, reclaimed uint64
	local          bool
}

// resolveSession finds the session a token names, if it still exists, and
// its freshest position: the record's, or what this node knows better (a
// connection being replaced, or a detachment not stored yet). A missing or
// invalid token, an expired session, or a session that belongs to another
// subject than owner (another identity, or anonymous) resolves to a new
// session: a session token alone never hands one identity's session to
// another.
func (e *edge) resolveSession(ctx context.Context, token, owner string, retry *recordChanged) (resolved, error) {
	r := resolved{created: e.cfg.Now()}
	if token == "" {
		return r, nil
	}
	sid, err := e.cfg.Keys.Verify(token)
	if err != nil {
		e.metrics.RejectedRequests.With("reason", "invalid_token").Add(1)
		return r, nil
	}
	id := sid.String()
	if retry == nil {
		k := e.knownRecord(id)
		if k.ok && k.rec.Subject == owner {
			r.id, r.resumed, r.position, r.reconnects = id, true, k.rec.Position, k.rec.Reconnects
			r.rev, r.reclaimed, r.local = k.rev, k.reclaimed, k.local
			if !k.rec.Created.IsZero() {
				r.created = k.rec.Created
			}
			return r, nil
		}
		e.unclaim(resolved{id: id, reclaimed: k.reclaimed})
	}
	// Looked at before and after reading the record: if the session was
	// stored in between, the record read may predate that, so it is read
	// again.
	_, knownBefore := e.localPosition(id)
	rec, _, err := e.store.GetSession(ctx, id)
	localPos, known := e.localPosition(id)
	if knownBefore && !known {
		rec, _, err = e.store.GetSession(ctx, id)
	}
	if retry != nil && retry.local {
		// The connection it was attached to here has been taken over.
		localPos, known = max(localPos, retry.position), true
	}
	if errors.Is(err, eventlog.ErrSessionNotFound) {
		// The record expired (or its bucket was made again), but a
		// detached session's consumer might outlive it: it still holds
		// the position.
		var s eventlog.ConsumerState
		if s, err = e.store.Consumer(ctx, id); err == nil {
			rec = eventlog.Record{Position: s.Position, Created: s.Created, Topics: s.Topics, Subject: s.Subject}
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, eventlog.ErrConsumerNotFound):
		e.metrics.SessionsExpired.Add(1)
		return r, nil
	default:
		e.logger.Warn("resuming session", "session", id, "err", err)
		return r, ErrUnavailable
	}
	if rec.Claim == eventlog.ClaimEnded {
		return r, ErrSessionEnded
	}
	if rec.Subject != owner {
		e.metrics.RejectedRequests.With("reason", "session_owner").Add(1)
		e.logger.Debug("session token presented by another identity: new session", "session", id)
		return r, nil
	}
	r.id, r.resumed, r.position, r.reconnects = id, true, rec.Position, rec.Reconnects
	if !rec.Created.IsZero() {
		r.created = rec.Created
	}
	if known {
		r.position = max(r.position, localPos)
	}
	return r, nil
}

// unclaim gives back the pending detachment handed to a connection that
// does not claim the session after all.
func (e *edge) unclaim(r resolved) {
	if r.reclaimed != 0 {
		e.recorder.unclaimed(r.id, r.reclaimed)
	}
}

// knownRecord returns a session's record as this node knows it without
// reading it, and its revision:
//   - a connection attached here: its claim, at what its client surely had;
//   - its detachment from this node, not stored yet (its record is still at
//     the revision the connection left it at; the detachment is handed to
//     this reconnect, see recorder.reclaim);
//   - its detached record as the claims watch saw it written.
//
// Whoever uses it writes the record only over that revision: another node,
// an operator, a checkpoint or the record's expiry may have written it
// since.
func (e *edge) knownRecord(id string) (k known) {
	e.reg.locked(id, func(st *Stream) {
		if st != nil {
			if rev := st.rev.Load(); rev != 0 && !st.wasEnded() {
				k = known{rec: st.record(st.ackedPosition()), rev: rev, local: true, ok: true}
			}
			return
		}
		if d, inFlight, pending := e.recorder.reclaim(id); pending {
			k = known{rec: d.rec, rev: d.rev, ok: true}
			if !inFlight {
				k.reclaimed = d.gen
			}
			return
		}
		if _, pending := e.recorder.pendingPosition(id); pending {
			return // handed to another reconnect, or its revision unknown
		}
		if r, found := e.detached.get(id); found && r.rev != 0 {
			k = known{rec: r.Record, rev: r.rev, ok: true}
		}
	})
	return k
}

// known is a session's record as knownRecord finds it.
type known struct {
	rec            eventlog.Record
	rev, reclaimed uint64
	local, ok      bool
}

// firstStored is the stream's first event, as read for one connection.
type firstStored struct {
	eventlog.First
	err error
}

// startAfter checks a connection's start position against the stream as it
// is now, read after the client asked: whether events after it left the
// stream (a gap, and the position it then goes on from), and what the live
// path's cache may serve it.
//
// A position at or behind the live path's last event is checked against f,
// the first event the stream holds (one direct get, shared by concurrent
// connections, and not held up in a reconnect storm the way STREAM.INFO
// is): below it, the events were evicted or purged. The cache serves the
// rest while the live path knows the stream has no hole in its middle (see
// fanout.Hub.Suspect: an operator's deletion or purge withdraws that the
// moment it is requested). A position beyond the last event (a stream made
// again, or a client ahead of this node), an empty stream, or a failed read
// cost a STREAM.INFO.
func (e *edge) startAfter(ctx context.Context, position uint64, f firstStored) (*fanout.Gap, uint64, fanout.Trust, error) {
	if last := e.live.Last(); position <= last && f.err == nil && f.Seq > 0 {
		if position+1 < f.Seq {
			gap := &fanout.Gap{After: position, First: f.Seq}
			return gap, f.Seq - 1, fanout.Trust{First: f.Seq}, nil
		}
		return nil, position, fanout.Trust{First: f.Seq}, nil
	}
	epoch := e.live.Epoch()
	state, err := e.store.State(ctx)
	if errors.Is(err, eventlog.ErrStreamNotFound) {
		return nil, 0, fanout.Trust{}, fmt.Errorf("%w: the stream is being made again", ErrNotReady)
	}
	if err != nil {
		return nil, 0, fanout.Trust{}, ErrUnavailable
	}
	view := state.View()
	e.live.Observe(view, epoch)
	gap, position := gapAfter(position, state)
	return gap, position, view.Trust(), nil
}

// gapAfter returns the gap a connection starting after position must be
// told of, and the position it then goes on from: events after position
// that the stream no longer holds (evicted, purged), or a position beyond
// the stream's end (a stream made again).
func gapAfter(position uint64, s eventlog.StreamState) (*fanout.Gap, uint64) {
	switch {
	case position > s.LastSeq:
		return &fanout.Gap{After: position, First: s.LastSeq + 1}, s.LastSeq
	case position+1 < s.FirstSeq:
		return &fanout.Gap{After: position, First: s.FirstSeq}, s.FirstSeq - 1
	}
	return nil, position
}
