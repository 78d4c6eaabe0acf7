package edge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/session"
	"github.com/jetsse/jetsse/pkg/topic"
)

// Admin is what operators may do with sessions, on any node: list them,
// look at one, end one. The admin API serves it; docs/protocol.md
// ("Sessions for operators and backends") is the contract.
type Admin interface {
	ListSessions(ctx context.Context, req ListSessionsRequest) (ListSessionsResponse, error)
	GetSession(ctx context.Context, id string) (SessionDetail, error)
	// EndSession ends a session: its connection, on whichever node, gets
	// the end event and closes; its token resumes nothing any more (its
	// record stays a tombstone until it expires); its consumer is deleted.
	EndSession(ctx context.Context, id string) error
}

var _ Admin = (*Edge)(nil)

// ListSessionsRequest asks for a page of sessions, ordered by ID.
type ListSessionsRequest struct {
	// Topic, if set, keeps the sessions whose topics cover it (a session
	// on "orders.*" is listed for "orders.42"), or that have it as one of
	// their topics.
	Topic string
	// Identity, if set, keeps the sessions of that identity.
	Identity string
	// PageSize is at most MaxPageSize (0: DefaultPageSize).
	PageSize int
	// PageToken continues after the page that returned it.
	PageToken string
}

// Page sizes of ListSessions.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ListSessionsResponse is a page of sessions.
type ListSessionsResponse struct {
	Sessions      []SessionDetail
	NextPageToken string // "" on the last page
}

// SessionDetail is a session as an operator sees it.
type SessionDetail struct {
	ID      string
	Subject string
	Topics  []string
	// Position is the last event the session's client surely had: this
	// node's own knowledge for a connection attached here, else the last
	// recorded one (an attached session's is recorded every few seconds).
	Position uint64
	// LastSeq is the stream's last event ID; Lag is LastSeq - Position.
	LastSeq, Lag uint64
	// AttachedNode names the node holding the connection ("" while
	// detached); DetachedSince is when it was recorded detached.
	AttachedNode  string
	DetachedSince time.Time
	Reconnects    uint64
	Created       time.Time
	Updated       time.Time // the record's last write
}

// ListSessions implements Admin.
func (e *edge) ListSessions(ctx context.Context, req ListSessionsRequest) (ListSessionsResponse, error) {
	size := req.PageSize
	switch {
	case size < 0 || size > MaxPageSize:
		return ListSessionsResponse{}, inputError("page_size", fmt.Errorf("must be 1 to %d", MaxPageSize))
	case size == 0:
		size = DefaultPageSize
	}
	if req.Topic != "" {
		if err := topic.Validate(req.Topic, true, e.cfg.Limits.MaxTopicLen); err != nil {
			return ListSessionsResponse{}, inputError("topic", err)
		}
	}
	all, err := e.store.Sessions(ctx)
	if err != nil {
		return ListSessionsResponse{}, ErrUnavailable
	}
	last, err := e.lastSeq(ctx)
	if err != nil {
		return ListSessionsResponse{}, err
	}
	// Sorted by ID: continue after the page token.
	start := sort.Search(len(all), func(i int) bool { return all[i].ID > req.PageToken })
	var resp ListSessionsResponse
	for _, s := range all[start:] {
		if s.Record.Claim == eventlog.ClaimEnded || !matches(s.Record, req) {
			continue
		}
		if len(resp.Sessions) == size {
			resp.NextPageToken = resp.Sessions[size-1].ID
			break
		}
		resp.Sessions = append(resp.Sessions, e.detail(s, last))
	}
	return resp, nil
}

// matches reports whether a session passes a list's filters.
func matches(r eventlog.Record, req ListSessionsRequest) bool {
	if req.Identity != "" && r.Subject != req.Identity {
		return false
	}
	if req.Topic == "" {
		return true
	}
	for _, t := range r.Topics {
		if t == req.Topic {
			return true
		}
	}
	set, err := topic.NewSet(r.Topics, topic.Limits{})
	return err == nil && !strings.ContainsAny(req.Topic, "*>") && set.Match(req.Topic)
}

// GetSession implements Admin.
func (e *edge) GetSession(ctx context.Context, id string) (SessionDetail, error) {
	if _, err := session.ParseID(id); err != nil {
		return SessionDetail{}, inputError("id", err)
	}
	s, err := e.store.Session(ctx, id)
	switch {
	case errors.Is(err, eventlog.ErrSessionNotFound):
		return SessionDetail{}, ErrSessionNotFound
	case err != nil:
		return SessionDetail{}, ErrUnavailable
	case s.Record.Claim == eventlog.ClaimEnded:
		return SessionDetail{}, ErrSessionNotFound
	}
	last, err := e.lastSeq(ctx)
	if err != nil {
		return SessionDetail{}, err
	}
	return e.detail(s, last), nil
}

// EndSession implements Admin.
func (e *edge) EndSession(ctx context.Context, id string) error {
	if _, err := session.ParseID(id); err != nil {
		return inputError("id", err)
	}
	_, err := e.store.EndSession(ctx, id)
	switch {
	case errors.Is(err, eventlog.ErrSessionNotFound):
		return ErrSessionNotFound
	case err != nil:
		e.logger.Warn("ending a session", "session", id, "err", err)
		return ErrUnavailable
	}
	// The claims watch tells the node holding the connection; this node
	// need not wait for it.
	e.reg.locked(id, func(st *Stream) {
		if st != nil {
			st.end()
		}
	})
	e.logger.Info("session ended by an operator", "session", id)
	return nil
}

// detail describes a stored session, with this node's fresher position
// for a connection it holds.
func (e *edge) detail(s eventlog.SessionEntry, last uint64) SessionDetail {
	d := SessionDetail{
		ID: s.ID, Subject: s.Record.Subject, Topics: s.Record.Topics, Position: s.Record.Position,
		LastSeq: last, AttachedNode: nodeOf(s.Record.Claim), Reconnects: s.Record.Reconnects,
		Created: s.Record.Created, Updated: s.Updated,
	}
	if s.Record.Claim == "" {
		d.DetachedSince = s.Updated
	}
	if pos, ok := e.localPosition(s.ID); ok {
		d.Position = max(d.Position, pos)
	}
	if last > d.Position {
		d.Lag = last - d.Position
	}
	return d
}

// lastSeq is the stream's last event ID.
func (e *edge) lastSeq(ctx context.Context) (uint64, error) {
	st, err := e.store.State(ctx)
	if err != nil {
		return 0, ErrUnavailable
	}
	return st.LastSeq, nil
}
