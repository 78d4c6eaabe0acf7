// Package natsembed runs a nats-server with JetStream inside the jetsse
// process: options in, a ready *server.Server out; the caller shuts it
// down. It creates no streams and holds no application configuration.
package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config describes one embedded server.
type Config struct {
	// ServerName names the server (required in a cluster; defaults to a
	// generated name).
	ServerName string
	// ClientAddr is host:port for NATS clients (port 0 picks a free port,
	// -1 too). Empty means no client listener: in-process clients only.
	ClientAddr string
	// StoreDir is the JetStream store directory.
	StoreDir string
	// SyncAlways makes JetStream fsync every write before acknowledging it.
	SyncAlways bool
	// SyncInterval is the periodic fsync interval when SyncAlways is false
	// (0 keeps the server's default of 2 minutes).
	SyncInterval time.Duration
	// MaxPayload is the largest message accepted (0 keeps 1 MiB).
	MaxPayload int32

	// ClusterName, ClusterAddr and Routes form a cluster of embedded
	// servers (all empty: a single server).
	ClusterName string
	ClusterAddr string
	Routes      []string

	// Logger receives the server's log lines (nil: discarded).
	Logger *slog.Logger
	// Debug enables the server's debug logging.
	Debug bool
	// ReadyTimeout bounds how long Start waits for JetStream (default 30s).
	ReadyTimeout time.Duration
}

// ErrNotReady is returned by Start when the server did not become ready in
// time.
var ErrNotReady = errors.New("natsembed: server not ready")

// Start starts the server and waits until it accepts connections and its
// JetStream is running. The caller owns the server and must shut it down.
func Start(ctx context.Context, cfg Config) (*server.Server, error) {
	opts := &server.Options{
		ServerName:   cfg.ServerName,
		JetStream:    true,
		StoreDir:     cfg.StoreDir,
		SyncAlways:   cfg.SyncAlways,
		SyncInterval: cfg.SyncInterval,
		MaxPayload:   cfg.MaxPayload,
		NoSigs:       true,
		Debug:        cfg.Debug,
	}
	if cfg.ClientAddr == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(cfg.ClientAddr)
		if err != nil {
			return nil, fmt.Errorf("natsembed: client address: %w", err)
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.ClusterName != "" {
		host, port, err := splitHostPort(cfg.ClusterAddr)
		if err != nil {
			return nil, fmt.Errorf("natsembed: cluster address: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: port}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("natsembed: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(slogAdapter{cfg.Logger}, cfg.Debug, false, false)
	}
	ns.Start()

	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if err := waitReady(ctx, ns, timeout); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, err
	}
	return ns, nil
}

// waitReady polls until the listeners are up and JetStream is running on
// this server (ReadyForConnections alone does not cover JetStream).
func waitReady(ctx context.Context, ns *server.Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if !ns.ReadyForConnections(timeout) {
		return fmt.Errorf("%w: listeners not up after %v", ErrNotReady, timeout)
	}
	for {
		hs := ns.Healthz(&server.HealthzOptions{JSServerOnly: true})
		if hs.Error == "" && ns.JetStreamEnabled() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s", ErrNotReady, hs.Error)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ClientURL returns the URL NATS clients use to reach ns, or "" when it has
// no client listener.
func ClientURL(ns *server.Server) string {
	if ns.Addr() == nil {
		return ""
	}
	return ns.ClientURL()
}

func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", portStr, err)
	}
	if port == 0 {
		port = -1 // nats-server: -1 picks a random port, 0 the default 4222
	}
	return host, port, nil
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
