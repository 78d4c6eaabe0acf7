package edge

import (
	"context"

	"github.com/go-kit/kit/endpoint"
)

// Endpoints collects the request/response endpoints of the edge. The
// long-lived event stream is not an endpoint: the transport serves it with
// its own handler over the same Service.
type Endpoints struct {
	Publish      endpoint.Endpoint
	PublishBatch endpoint.Endpoint
	Ready        endpoint.Endpoint
}

// MakeEndpoints returns the endpoints of s.
func MakeEndpoints(s Service) Endpoints {
	return Endpoints{
		Publish:      MakePublishEndpoint(s),
		PublishBatch: MakePublishBatchEndpoint(s),
		Ready:        MakeReadyEndpoint(s),
	}
}

// Failer is implemented by responses that carry a business error. The
// error does not travel as the endpoint's error, so it does not trip
// circuit breakers; the transport encodes it.
type Failer interface {
	Failed() error
}

// PublishResult is the publish endpoint's response: the event's ID, or the
// error (a Failer).
type PublishResult struct {
	PublishResponse
	Err error
}

// Failed implements Failer.
func (r PublishResult) Failed() error { return r.Err }

// MakePublishEndpoint returns an endpoint for Service.Publish. Its request
// is a PublishRequest; its response a PublishResult.
func MakePublishEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		resp, err := s.Publish(ctx, request.(PublishRequest))
		return PublishResult{PublishResponse: resp, Err: err}, nil
	}
}

// PublishBatchResult is the batch publish endpoint's response: the
// events' IDs, and the error (a Failer). After a *BatchError, the IDs of
// the events that were stored are still there.
type PublishBatchResult struct {
	PublishBatchResponse
	Err error
}

// Failed implements Failer.
func (r PublishBatchResult) Failed() error { return r.Err }

// MakePublishBatchEndpoint returns an endpoint for Service.PublishBatch.
// Its request is a PublishBatchRequest; its response a
// PublishBatchResult.
func MakePublishBatchEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		resp, err := s.PublishBatch(ctx, request.(PublishBatchRequest))
		return PublishBatchResult{PublishBatchResponse: resp, Err: err}, nil
	}
}

// ReadyResult is the readiness endpoint's response: "ready", or
// "unavailable" with the reason (a Failer; the reason is for logs, not for
// clients).
type ReadyResult struct {
	Status string
	Err    error
}

// Failed implements Failer.
func (r ReadyResult) Failed() error { return r.Err }

// MakeReadyEndpoint returns an endpoint for Service.Ready.
func MakeReadyEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		if err := s.Ready(ctx); err != nil {
			return ReadyResult{Status: "unavailable", Err: err}, nil
		}
		return ReadyResult{Status: "ready"}, nil
	}
}

// AdminEndpoints are the admin API's endpoints (see Admin).
type AdminEndpoints struct {
	ListSessions endpoint.Endpoint
	GetSession   endpoint.Endpoint
	EndSession   endpoint.Endpoint
}

// MakeAdminEndpoints returns the endpoints of a.
func MakeAdminEndpoints(a Admin) AdminEndpoints {
	return AdminEndpoints{
		ListSessions: func(ctx context.Context, request any) (any, error) {
			resp, err := a.ListSessions(ctx, request.(ListSessionsRequest))
			return ListSessionsResult{ListSessionsResponse: resp, Err: err}, nil
		},
		GetSession: func(ctx context.Context, request any) (any, error) {
			d, err := a.GetSession(ctx, request.(SessionIDRequest).ID)
			return SessionResult{SessionDetail: d, Err: err}, nil
		},
		EndSession: func(ctx context.Context, request any) (any, error) {
			err := a.EndSession(ctx, request.(SessionIDRequest).ID)
			return EndSessionResult{Err: err}, nil
		},
	}
}

// SessionIDRequest names one session.
type SessionIDRequest struct{ ID string }

// ListSessionsResult is the list endpoint's response (a Failer).
type ListSessionsResult struct {
	ListSessionsResponse
	Err error
}

// Failed implements Failer.
func (r ListSessionsResult) Failed() error { return r.Err }

// SessionResult is the inspect endpoint's response (a Failer).
type SessionResult struct {
	SessionDetail
	Err error
}

// Failed implements Failer.
func (r SessionResult) Failed() error { return r.Err }

// EndSessionResult is the end endpoint's response (a Failer).
type EndSessionResult struct{ Err error }

// Failed implements Failer.
func (r EndSessionResult) Failed() error { return r.Err }
