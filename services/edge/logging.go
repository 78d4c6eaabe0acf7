package edge

import (
	"context"
	"log/slog"
	"time"
)

// LoggingMiddleware logs every publish and subscribe with its outcome.
func LoggingMiddleware(logger *slog.Logger) func(Service) Service {
	return func(next Service) Service { return loggingService{logger, next} }
}

type loggingService struct {
	logger *slog.Logger
	next   Service
}

func (s loggingService) Publish(ctx context.Context, req PublishRequest) (resp PublishResponse, err error) {
	defer func(begin time.Time) {
		level := slog.LevelDebug
		if serverSide(Outcome(err)) {
			level = slog.LevelWarn
		}
		if !s.logger.Enabled(ctx, level) {
			return // spares boxing the attributes on every publish
		}
		s.logger.Log(ctx, level, "publish", "topic", req.Topic, "event", req.Event, "bytes", len(req.Data),
			"id", resp.ID, "err", err, "took", time.Since(begin))
	}(time.Now())
	return s.next.Publish(ctx, req)
}

func (s loggingService) PublishBatch(ctx context.Context, req PublishBatchRequest) (resp PublishBatchResponse, err error) {
	defer func(begin time.Time) {
		level := slog.LevelDebug
		if serverSide(Outcome(err)) {
			level = slog.LevelWarn
		}
		if !s.logger.Enabled(ctx, level) {
			return
		}
		stored := 0
		for _, id := range resp.IDs {
			if id != "" {
				stored++
			}
		}
		s.logger.Log(ctx, level, "publish batch", "events", len(req.Events), "stored", stored, "err", err, "took", time.Since(begin))
	}(time.Now())
	return s.next.PublishBatch(ctx, req)
}

func (s loggingService) Subscribe(ctx context.Context, req SubscribeRequest) (st *Stream, err error) {
	defer func(begin time.Time) {
		attrs := []any{"topics", req.Topics, "last_event_id", req.LastEventID, "took", time.Since(begin)}
		if err != nil {
			level := slog.LevelDebug
			if serverSide(Outcome(err)) {
				level = slog.LevelWarn
			}
			s.logger.Log(ctx, level, "subscribe refused", append(attrs, "err", err)...)
			return
		}
		s.logger.Debug("subscribe", append(attrs, "session", st.Session.ID, "resumed", st.Session.Resumed,
			"start_after", st.Session.LastEventID, "gap", st.Session.Gap != nil)...)
	}(time.Now())
	return s.next.Subscribe(ctx, req)
}

func (s loggingService) Ready(ctx context.Context) error { return s.next.Ready(ctx) }
