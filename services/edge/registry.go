package edge

import (
	"strings"
	"sync"

	"github.com/jetsse/jetsse/pkg/eventlog"
)

// registry holds this node's attached connection per session and enforces
// "one attached connection per session": locally by replacing the entry,
// across nodes by claim revisions seen through the fence watch. It is safe
// for concurrent use.
type registry struct {
	ownerPrefix string // claims of this node start with it; attach orders those

	mu   sync.Mutex
	byID map[string]*Stream
}

func newRegistry(nodeID string) *registry {
	return &registry{ownerPrefix: nodeID + "/", byID: make(map[string]*Stream)}
}

// attach makes st the session's local connection and returns the one it
// replaced (already told to end), if any.
func (r *registry) attach(st *Stream) *Stream {
	r.mu.Lock()
	old := r.byID[st.sessionID]
	r.byID[st.sessionID] = st
	r.mu.Unlock()
	if old != nil {
		old.takeOver()
	}
	return old
}

// claimed records the revision of st's claim. If a newer claim for the
// session was already seen, st has lost and is told to end.
func (r *registry) claimed(st *Stream, rev uint64) {
	r.mu.Lock()
	st.rev.Store(rev)
	lost := st.newestSeen > rev
	if lost && r.byID[st.sessionID] == st {
		delete(r.byID, st.sessionID)
	}
	r.mu.Unlock()
	if lost {
		st.takeOver()
	}
}

// reclaimed records the revision of st's claim in a session bucket that
// was made again: revisions seen in the old bucket no longer count.
func (r *registry) reclaimed(st *Stream, rev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.rev.Store(rev)
	st.newestSeen = 0
}

// observe handles a claim made by any node. Claims of this node are
// ignored: attach already ordered them.
func (r *registry) observe(ev eventlog.ClaimEvent) {
	if ev.Owner == "" || strings.HasPrefix(ev.Owner, r.ownerPrefix) {
		return // a detach never takes over; this node ordered its own claims
	}
	r.mu.Lock()
	st := r.byID[ev.SessionID]
	if st == nil {
		r.mu.Unlock()
		return
	}
	rev := st.rev.Load()
	if rev == 0 {
		// Our own claim has not returned yet; decide when it does.
		st.newestSeen = max(st.newestSeen, ev.Revision)
		r.mu.Unlock()
		return
	}
	if ev.Revision < rev {
		r.mu.Unlock()
		return
	}
	delete(r.byID, ev.SessionID)
	r.mu.Unlock()
	st.takeOver()
}

// detach removes st if it is still the session's connection and reports
// whether it was.
func (r *registry) detach(st *Stream) bool { return r.detachThen(st, nil) }

// detachThen is detach, calling then (if st was the session's connection)
// before anyone can see the session gone: what then records is never
// missed by a reader using locked.
func (r *registry) detachThen(st *Stream, then func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[st.sessionID] == st {
		delete(r.byID, st.sessionID)
		if then != nil {
			then()
		}
		return true
	}
	return false
}

// locked calls fn with the session's local connection (or nil) while no
// connection of it can attach or detach.
func (r *registry) locked(id string, fn func(*Stream)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r.byID[id])
}

// each calls fn for every attached connection (not under the lock).
func (r *registry) each(fn func(*Stream)) {
	r.mu.Lock()
	all := make([]*Stream, 0, len(r.byID))
	for _, st := range r.byID {
		all = append(all, st)
	}
	r.mu.Unlock()
	for _, st := range all {
		fn(st)
	}
}
