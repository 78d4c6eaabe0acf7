package edge

import (
	"context"
	"time"

	"github.com/go-kit/kit/metrics"
)

// InstrumentingMiddleware records how long publish and subscribe take, by
// outcome, and counts refused requests by reason.
func InstrumentingMiddleware(duration metrics.Histogram, rejected metrics.Counter) func(Service) Service {
	return func(next Service) Service {
		return instrumentingService{duration: duration, rejected: rejected, durations: &withCache[metrics.Histogram]{}, next: next}
	}
}

type instrumentingService struct {
	duration  metrics.Histogram
	rejected  metrics.Counter
	durations *withCache[metrics.Histogram] // by method and outcome
	next      Service
}

func (s instrumentingService) observe(method string, begin time.Time, err error) {
	outcome := Outcome(err)
	if err != nil {
		s.rejected.With("reason", outcome).Add(1)
	}
	s.durations.get(method, outcome, func() metrics.Histogram {
		return s.duration.With("method", method, "outcome", outcome)
	}).Observe(time.Since(begin).Seconds())
}

func (s instrumentingService) Publish(ctx context.Context, req PublishRequest) (PublishResponse, error) {
	begin := time.Now()
	resp, err := s.next.Publish(ctx, req)
	s.observe("publish", begin, err)
	return resp, err
}

func (s instrumentingService) PublishBatch(ctx context.Context, req PublishBatchRequest) (PublishBatchResponse, error) {
	begin := time.Now()
	resp, err := s.next.PublishBatch(ctx, req)
	s.observe("publish_batch", begin, err)
	return resp, err
}

func (s instrumentingService) Subscribe(ctx context.Context, req SubscribeRequest) (*Stream, error) {
	begin := time.Now()
	st, err := s.next.Subscribe(ctx, req)
	s.observe("subscribe", begin, err)
	return st, err
}

func (s instrumentingService) Ready(ctx context.Context) error { return s.next.Ready(ctx) }
