package httptransport

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/jetsse/jetsse/services/edge"
)

// notReady is all the public GET /readyz says of a node that cannot serve:
// the reason (a NATS error, a missing bucket) is for the operator, in the
// log and on the admin listener's /readyz.
const notReady = "not ready"

// readyTimeout bounds a readiness check: while NATS is unreachable its
// requests wait for a reconnect, and a probe must still get its answer
// (not ready) in time.
const readyTimeout = 2 * time.Second

// boundedReady runs next with a context that ends after readyTimeout.
func boundedReady(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// encodeReady answers the public GET /readyz: 200 {"status":"ready"}, or
// 503 {"error":"not ready"} with Retry-After, whatever the reason. The
// reason is logged when it changes (a warning; being ready again is
// info), so a probe every second does not flood the log.
func encodeReady(logger *slog.Logger) kithttp.EncodeResponseFunc {
	var (
		mu   sync.Mutex
		last string // the last reason logged; "" while ready
	)
	note := func(err error) {
		reason := ""
		if err != nil {
			reason = err.Error()
		}
		mu.Lock()
		changed := reason != last
		last = reason
		mu.Unlock()
		switch {
		case !changed:
		case err != nil:
			logger.Warn("not ready", "reason", reason)
		default:
			logger.Info("ready again")
		}
	}
	return func(ctx context.Context, w http.ResponseWriter, response any) error {
		r, ok := response.(edge.ReadyResult)
		if !ok {
			return encodeResponse(ctx, w, response)
		}
		note(r.Err)
		if r.Err != nil {
			w.Header().Set("Retry-After", "2")
			writeError(w, http.StatusServiceUnavailable, notReady)
			return nil
		}
		return encodeResponse(ctx, w, response)
	}
}
