package app

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/services/edge"
)

// refreshingMetrics serves h after bringing the gauges that need a
// JetStream request (the stream's use and limits, the sessions stored) and
// the service's batched counters up to date, at most once a second. Nothing
// is polled while nobody scrapes: an idle node stays idle.
func refreshingMetrics(h http.Handler, log *eventlog.Log, m *edge.Metrics, svc *edge.Edge, logger *slog.Logger) http.Handler {
	var (
		mu   sync.Mutex
		last time.Time
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if time.Since(last) >= time.Second {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			refreshStreamGauges(ctx, log, m, logger)
			cancel()
			svc.FlushCounters()
			last = time.Now()
		}
		mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func refreshStreamGauges(ctx context.Context, log *eventlog.Log, m *edge.Metrics, logger *slog.Logger) {
	s, err := log.State(ctx)
	if err == nil {
		m.StreamMessages.Set(float64(s.Msgs))
		m.StreamBytes.Set(float64(s.Bytes))
		m.StreamFirstSeq.Set(float64(s.FirstSeq))
		m.StreamLastSeq.Set(float64(s.LastSeq))
		m.StreamConsumers.Set(float64(s.Consumers))
		m.StreamMaxMsgs.Set(float64(s.MaxMsgs))
		m.StreamMaxBytes.Set(float64(s.MaxBytes))
		m.StreamMaxAge.Set(s.MaxAge.Seconds())
	} else {
		logger.Debug("reading stream state", "err", err)
	}
	if n, err := log.CountSessions(ctx); err == nil {
		m.SessionsStored.Set(float64(n))
	}
}
