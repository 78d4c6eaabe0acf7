package edge

import (
	"strings"
	"sync"

	"github.com/jetsse/jetsse/pkg/eventlog"
)

// registry holds this node's attached connection per session and keeps a
// session to one attached connection: on this node by replacing the entry,
// across nodes by the revisions of the claims seen through the claims watch
// (a claim with a higher revision is the newer connection). It is safe for
// concurrent use.
type registry struct {
	claimPrefix string // claims of this node start with it

	mu   sync.Mutex
	byID map[string]*Stream
}

func newRegistry(nodeID string) *registry {
	return &registry{claimPrefix: nodeID + "/", byID: make(map[string]*Stream)}
}

// claim makes st the session's connection on this node and returns the one
// it replaced (already told it was taken over), if any.
func (r *registry) claim(st *Stream) *Stream {
	r.mu.Lock()
	old := r.byID[st.Session.ID]
	r.byID[st.Session.ID] = st
	r.mu.Unlock()
	if old != nil {
		old.takeOver()
	}
	return old
}

// stored records the revision of st's claim in the bucket. If a newer
// claim of another node was already seen, st has lost and is taken over.
func (r *registry) stored(st *Stream, rev uint64) {
	r.mu.Lock()
	st.rev.Store(rev)
	lost := st.newestSeen > rev
	if lost && r.byID[st.Session.ID] == st {
		delete(r.byID, st.Session.ID)
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

// observe handles a claim written by any node. This node's own claims are
// ignored (claim already ordered them), and so is a detachment (no claim).
func (r *registry) observe(ev eventlog.ClaimEvent) {
	if ev.Claim == "" || strings.HasPrefix(ev.Claim, r.claimPrefix) {
		return
	}
	r.mu.Lock()
	st := r.byID[ev.SessionID]
	if st == nil {
		r.mu.Unlock()
		return
	}
	rev := st.rev.Load()
	if rev == 0 {
		// This node's claim is still being stored; decide when it is.
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

// release removes st if it is still the session's connection and reports
// whether it was.
func (r *registry) release(st *Stream) bool { return r.releaseThen(st, nil) }

// releaseThen is release, calling then (if st was the session's
// connection) before anyone can see the session gone: what then records is
// never missed by a reader using locked.
func (r *registry) releaseThen(st *Stream, then func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[st.Session.ID] == st {
		delete(r.byID, st.Session.ID)
		if then != nil {
			then()
		}
		return true
	}
	return false
}

// locked calls fn with the session's connection on this node (or nil)
// while no connection of it can claim or release it.
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
