package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jetsse/jetsse/services/edge"
	"github.com/jetsse/jetsse/services/edge/httptransport"
)

// adminServer returns the admin listener's server (--admin-addr): GET
// /metrics for Prometheus, and, behind the admin token, /readyz with the
// reason, Go's profiles and the admin API (routes). It is plain HTTP: the
// listener is meant to be private (loopback by default).
func adminServer(token string, metrics http.Handler, ready func(context.Context) error, routes map[string]http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler: httptransport.NewAdminHandler(httptransport.AdminConfig{
			Token:   token,
			Metrics: metrics,
			Ready:   ready,
			Routes:  routes,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}

// listenAdmin binds the admin listener, or returns nil without one.
func listenAdmin(c config) (net.Listener, error) {
	if c.adminAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.adminAddr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr: %w", err)
	}
	return ln, nil
}

// adminActor serves the admin listener until interrupted. It is added after
// the HTTP actor, so metrics are still scraped while the node drains.
func adminActor(ln net.Listener, srv *http.Server) (func() error, func(error)) {
	return func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) {
			_ = srv.Close()
		}
}

// adminErrorLog logs the admin API's failures that are the edge's own.
type adminErrorLog struct{ l *slog.Logger }

func (h adminErrorLog) Handle(_ context.Context, err error) {
	if edge.Outcome(err) == "error" {
		h.l.Error("admin request failed", "err", err)
	}
}
