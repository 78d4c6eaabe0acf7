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
	"strings"
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

	// Username and Password, when Username is set, are the credentials
	// every client must present: network clients and in-process ones
	// alike. Their user is in the server's global account, the one with
	// JetStream. Both empty: no authentication, which Start allows only
	// for a client listener that other hosts cannot reach (see
	// LoopbackOnly).
	Username string
	Password string

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

// ErrNoCredentials is returned by Start for a client listener that other
// hosts may reach without a Username, and for a Username without a
// Password.
var ErrNoCredentials = errors.New("natsembed: credentials required")

// Start starts the server and waits until it accepts connections and its
// JetStream is running. The caller owns the server and must shut it down.
// It refuses (ErrNoCredentials) to open a client listener that other hosts
// may reach without credentials.
func Start(ctx context.Context, cfg Config) (*server.Server, error) {
	if cfg.Username == "" && cfg.Password != "" || cfg.Username != "" && cfg.Password == "" {
		return nil, fmt.Errorf("%w: Username and Password go together", ErrNoCredentials)
	}
	if cfg.Username == "" && !LoopbackOnly(cfg.ClientAddr) {
		return nil, fmt.Errorf("%w: client address %q is reachable from other hosts", ErrNoCredentials, cfg.ClientAddr)
	}
	opts := &server.Options{
		ServerName:   cfg.ServerName,
		JetStream:    true,
		StoreDir:     cfg.StoreDir,
		SyncAlways:   cfg.SyncAlways,
		SyncInterval: cfg.SyncInterval,
		MaxPayload:   cfg.MaxPayload,
		NoSigs:       true,
		Debug:        cfg.Debug,
		Username:     cfg.Username,
		Password:     cfg.Password,
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

// ClientURL returns the URL NATS clients on this host use to reach ns, or
// "" when it has no client listener. A listener on every address (0.0.0.0,
// "::") is named by its loopback address.
func ClientURL(ns *server.Server) string {
	addr, ok := ns.Addr().(*net.TCPAddr)
	if !ok || addr == nil {
		return ""
	}
	u, err := url.Parse(ns.ClientURL())
	if err != nil || !addr.IP.IsUnspecified() {
		return ns.ClientURL()
	}
	host := "127.0.0.1"
	if strings.Contains(u.Hostname(), ":") { // "::": an IPv6 listener
		host = "::1"
	}
	u.Host = net.JoinHostPort(host, strconv.Itoa(addr.Port))
	return u.String()
}

// LoopbackOnly reports whether a client listener on addr (Config's
// ClientAddr) accepts connections from this host only: no listener at all
// (""), or a host of 127.0.0.0/8, ::1 or "localhost". Every other address
// counts as reachable from other hosts: an empty host (":4222"), 0.0.0.0,
// "::", any other IP or host name, and anything that does not parse.
func LoopbackOnly(addr string) bool {
	if addr == "" {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

// plaintextWarning is the warning nats-server logs at every start for a
// password that is not a bcrypt hash. The password is plain on purpose: its
// owner keeps it in plain anyway (the in-process client presents it), it is
// random or long, and bcrypt would cost every connection attempt, a refused
// one on an open port included, some 80 ms of CPU. It is logged at debug
// level instead.
const plaintextWarning = "Plaintext passwords detected, use nkeys or bcrypt"

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any) {
	if format == plaintextWarning {
		a.l.Debug(fmt.Sprintf(format, v...))
		return
	}
	a.l.Warn(fmt.Sprintf(format, v...))
}
func (a slogAdapter) Fatalf(format string, v ...any) { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any) { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
