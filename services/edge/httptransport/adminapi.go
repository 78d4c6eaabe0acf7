package httptransport

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/jetsse/jetsse/pkg/jetssev1"
	"github.com/jetsse/jetsse/services/edge"
)

// AdminAPIRoutes returns the admin API's routes, for AdminConfig.Routes
// (behind the admin token): GET /v1/sessions, GET /v1/sessions/{id} and
// DELETE /v1/sessions/{id}, as go-kit servers over eps. docs/protocol.md
// ("Admin API") is the contract.
func AdminAPIRoutes(eps edge.AdminEndpoints, logger interface{ Handle(context.Context, error) }) map[string]http.Handler {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(encodeError)}
	if logger != nil {
		opts = append(opts, kithttp.ServerErrorHandler(logger))
	}
	return map[string]http.Handler{
		"GET /v1/sessions":         kithttp.NewServer(eps.ListSessions, decodeListSessions, encodeAdmin, opts...),
		"GET /v1/sessions/{id}":    kithttp.NewServer(eps.GetSession, decodeSessionID, encodeAdmin, opts...),
		"DELETE /v1/sessions/{id}": kithttp.NewServer(eps.EndSession, decodeSessionID, encodeAdmin, opts...),
	}
}

func decodeListSessions(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	req := edge.ListSessionsRequest{Topic: q.Get("topic"), Identity: q.Get("identity"), PageToken: q.Get("page_token")}
	if s := q.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, &edge.InputError{Field: "page_size", Err: errors.New("not a number")}
		}
		req.PageSize = n
	}
	return req, nil
}

func decodeSessionID(_ context.Context, r *http.Request) (any, error) {
	return edge.SessionIDRequest{ID: r.PathValue("id")}, nil
}

// encodeAdmin writes an admin endpoint's response: its error, the JSON of
// a session or a page of them, or 204 for an ended session.
func encodeAdmin(ctx context.Context, w http.ResponseWriter, response any) error {
	if f, ok := response.(edge.Failer); ok && f.Failed() != nil {
		encodeError(ctx, f.Failed(), w)
		return nil
	}
	w.Header().Set("Cache-Control", "no-store")
	var body []byte
	switch r := response.(type) {
	case edge.EndSessionResult:
		w.WriteHeader(http.StatusNoContent)
		return nil
	case edge.SessionResult:
		body = appendWire(nil, sessionInfo(r.SessionDetail))
	case edge.ListSessionsResult:
		m := &jetssev1.ListSessionsResponse{NextPageToken: r.NextPageToken, Sessions: []*jetssev1.SessionInfo{}}
		for _, d := range r.Sessions {
			m.Sessions = append(m.Sessions, sessionInfo(d))
		}
		body = appendWire(nil, m)
	default:
		return errors.New("httptransport: no wire message for an admin response")
	}
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(append(body, '\n'))
	return err
}

func sessionInfo(d edge.SessionDetail) *jetssev1.SessionInfo {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	topics := d.Topics
	if topics == nil {
		topics = []string{}
	}
	return &jetssev1.SessionInfo{
		Session: d.ID, Identity: d.Subject, Topics: topics,
		Position: strconv.FormatUint(d.Position, 10), LastEventId: strconv.FormatUint(d.LastSeq, 10), Lag: d.Lag,
		AttachedNode: d.AttachedNode, DetachedSince: ts(d.DetachedSince), Reconnects: d.Reconnects,
		Created: ts(d.Created), Updated: ts(d.Updated),
	}
}
