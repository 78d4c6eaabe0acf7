package edge

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
)

// The kinds of session lifecycle events (docs/protocol.md, "Sessions for
// operators and backends").
const (
	LifecycleCreated  = "created"
	LifecycleResumed  = "resumed"
	LifecycleTakeover = "takeover"
	LifecycleDetached = "detached"
	LifecycleExpired  = "expired"
	LifecycleGap      = "gap"
)

// LifecycleEvent is something that happened to a session, for backends
// (presence, audit, billing).
type LifecycleEvent struct {
	Kind    string
	Session string
	// Subject is the identity the session belongs to ("" if anonymous).
	Subject string
	Topics  []string
	// Node is the node that saw it happen.
	Node string
	// Position is the event ID the session is at: the last its client
	// surely had, or (created, resumed) the one its connection starts
	// after. HasPosition is false when it is not known (live only, or an
	// expiry whose record this node never saw).
	Position    uint64
	HasPosition bool
	Reconnects  uint64
	Time        time.Time
	// Gap is set for LifecycleGap.
	Gap *fanout.Gap
}

// Lifecycle receives the session lifecycle events. Announce must not block
// (it is called on the paths that serve connections) and is safe for
// concurrent use.
type Lifecycle interface {
	Announce(LifecycleEvent)
}

type discardLifecycle struct{}

func (discardLifecycle) Announce(LifecycleEvent) {}

// announce sends st's session's event of kind, at position (known says
// whether there is one).
func (e *edge) announce(kind string, st *Stream, position uint64, known bool, gap *fanout.Gap) {
	e.lifecycle.Announce(LifecycleEvent{
		Kind: kind, Session: st.Session.ID, Subject: st.subject, Topics: st.topics.Topics(),
		Node: e.cfg.NodeID, Position: position, HasPosition: known,
		Reconnects: st.reconnects, Time: e.cfg.Now(), Gap: gap,
	})
}

// detachedRecords remembers the records of detached sessions, as every
// node's claims watch sees them written, with their revisions: whichever
// node notices a session expire can say what it was, and a reconnect to
// any node can claim the session without reading its record first (see
// edge.knownRecord). It holds at most max sessions; past that an expiry is
// announced with the session's ID only, and a reconnect reads the record.
type detachedRecords struct {
	max int
	mu  sync.Mutex
	m   map[string]revisedRecord
}

// revisedRecord is a record and its revision (0: from a bucket since made
// again, which counts revisions anew).
type revisedRecord struct {
	eventlog.Record
	rev uint64
}

func newDetachedRecords(max int) *detachedRecords {
	return &detachedRecords{max: max, m: make(map[string]revisedRecord)}
}

// observe keeps a detached session's record, and forgets a session that
// was attached or ended, or whose record cannot be read.
func (d *detachedRecords) observe(ev eventlog.ClaimEvent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ev.Claim != "" || !ev.HasRecord {
		delete(d.m, ev.SessionID)
		return
	}
	if _, ok := d.m[ev.SessionID]; ok || len(d.m) < d.max {
		d.m[ev.SessionID] = revisedRecord{ev.Record, ev.Revision}
	}
}

// get returns a session's last detached record.
func (d *detachedRecords) get(id string) (revisedRecord, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.m[id]
	return r, ok
}

// take returns and forgets a session's last detached record.
func (d *detachedRecords) take(id string) (eventlog.Record, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.m[id]
	delete(d.m, id)
	return r.Record, ok
}

// bucketRecreated forgets the revisions: the bucket was made again, and
// counts them anew.
func (d *detachedRecords) bucketRecreated() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, r := range d.m {
		r.rev = 0
		d.m[id] = r
	}
}

// observeClaim handles a write to any session's record seen by the claims
// watch: a claim by another node takes this node's connection over, an
// operator's end ends it, and detached records are remembered for the
// expiry announcements.
func (e *edge) observeClaim(ev eventlog.ClaimEvent) {
	e.detached.observe(ev)
	if ev.Claim == eventlog.ClaimEnded {
		e.reg.locked(ev.SessionID, func(st *Stream) {
			if st != nil {
				st.end()
			}
		})
		return
	}
	e.reg.observe(ev)
}

// watchExpiries announces the sessions that expire, sharing the work with
// the other nodes, until ctx ends.
func (e *edge) watchExpiries(ctx context.Context) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := e.store.WatchExpiries(ctx, e.expired)
		if ctx.Err() != nil {
			return
		}
		if err != nil && e.storesUp.Load() {
			e.logger.Debug("expiry watch ended; starting it again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// expired announces that a session expired.
func (e *edge) expired(id string) {
	ev := LifecycleEvent{Kind: LifecycleExpired, Session: id, Node: e.cfg.NodeID, Time: e.cfg.Now()}
	if r, ok := e.detached.take(id); ok {
		ev.Subject, ev.Topics, ev.Position, ev.HasPosition, ev.Reconnects = r.Subject, r.Topics, r.Position, true, r.Reconnects
	}
	e.logger.Debug("session expired", "session", id)
	e.lifecycle.Announce(ev)
}

// nodeOf returns the node of a claim ("node/connection").
func nodeOf(claim string) string {
	node, _, _ := strings.Cut(claim, "/")
	return node
}
