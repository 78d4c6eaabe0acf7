package edge

import (
	"context"

	"github.com/go-kit/kit/endpoint"
)

// Endpoints collects the request/response endpoints of the edge. The
// long-lived SSE route is not an endpoint; it is served by the hand-written
// handler in transport_http.go over the same Service.
type Endpoints struct {
	Publish endpoint.Endpoint
	Ready   endpoint.Endpoint
}

// MakeEndpoints returns the endpoints of s.
func MakeEndpoints(s Service) Endpoints {
	return Endpoints{
		Publish: MakePublishEndpoint(s),
		Ready:   MakeReadyEndpoint(s),
	}
}

// Failer is implemented by responses that carry a business error. The
// error does not travel as the endpoint's error, so it does not trip
// circuit breakers; the transport encodes it.
type Failer interface {
	Failed() error
}

type publishResult struct {
	PublishResponse
	Err error `json:"-"`
}

func (r publishResult) Failed() error { return r.Err }

// MakePublishEndpoint returns an endpoint for Service.Publish. Its request
// is a PublishRequest; its response a PublishResponse or a Failer.
func MakePublishEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		resp, err := s.Publish(ctx, request.(PublishRequest))
		return publishResult{PublishResponse: resp, Err: err}, nil
	}
}

type readyResult struct {
	Status string `json:"status"`
	Err    error  `json:"-"`
}

func (r readyResult) Failed() error { return r.Err }

// MakeReadyEndpoint returns an endpoint for Service.Ready.
func MakeReadyEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		if err := s.Ready(ctx); err != nil {
			return readyResult{Status: "unavailable", Err: err}, nil
		}
		return readyResult{Status: "ready"}, nil
	}
}
