// Package app is the jetsse command: flags (environment variables fill what
// the command line leaves unset), the wiring of every part, and the actors
// that run them. cmd/jetsse's main calls Run; tests call it too, so they
// drive exactly the wiring users run.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/oklog/run"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jetsse/jetsse/pkg/atomicfile"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/natsembed"
	"github.com/jetsse/jetsse/pkg/session"
	"github.com/jetsse/jetsse/services/edge"
	"github.com/jetsse/jetsse/services/edge/web"
)

// Ready describes a running server; Run reports it once the HTTP listener
// accepts connections.
type Ready struct {
	HTTPAddr     string // host:port of the HTTP listener
	NATSURL      string // URL NATS clients use ("" without a client listener)
	PublishToken string
	DataDir      string
}

// Options are for callers that run the command in-process.
type Options struct {
	Stdout io.Writer
	Stderr io.Writer
	// OnReady, if set, is called once the server accepts HTTP connections.
	OnReady func(Ready)
	// HandleSignals makes SIGINT and SIGTERM stop the server (the binary
	// sets it; tests end Run by cancelling ctx).
	HandleSignals bool
}

// Run runs the jetsse command line: `jetsse serve [flags]`, `jetsse keygen`.
// Flags may also be set by environment variables: JETSSE_HTTP_ADDR for
// --http-addr, and so on.
func Run(ctx context.Context, args []string, opts Options) error {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	var cfg config
	serveFS := flag.NewFlagSet("jetsse serve", flag.ContinueOnError)
	serveFS.SetOutput(opts.Stderr)
	cfg.register(serveFS)

	serve := &ffcli.Command{
		Name:       "serve",
		ShortUsage: "jetsse serve [flags]",
		ShortHelp:  "run the SSE edge (with an embedded NATS server unless --nats-url is given)",
		FlagSet:    serveFS,
		Options:    []ff.Option{ff.WithEnvVarPrefix("JETSSE")},
		Exec: func(ctx context.Context, _ []string) error {
			return serveCmd(ctx, cfg, opts)
		},
	}
	keygen := &ffcli.Command{
		Name:       "keygen",
		ShortUsage: "jetsse keygen",
		ShortHelp:  "print a new random session key (a line for --session-key-file)",
		Exec: func(context.Context, []string) error {
			k, err := session.NewRandomKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(opts.Stdout, k)
			return err
		},
	}
	rootFS := flag.NewFlagSet("jetsse", flag.ContinueOnError)
	rootFS.SetOutput(opts.Stderr)
	root := &ffcli.Command{
		ShortUsage:  "jetsse <serve|keygen> [flags]",
		FlagSet:     rootFS,
		Subcommands: []*ffcli.Command{serve, keygen},
		Exec: func(context.Context, []string) error {
			return flag.ErrHelp
		},
	}
	if err := root.Parse(args); err != nil {
		return err
	}
	// Which flags were given (on the command line or in the environment):
	// only those limits are applied to a stream that exists already.
	serveFS.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "max-age":
			cfg.explicit |= eventlog.LimitMaxAge
		case "max-msgs":
			cfg.explicit |= eventlog.LimitMaxMsgs
		case "max-bytes":
			cfg.explicit |= eventlog.LimitMaxBytes
		case "replicas":
			cfg.explicit |= eventlog.LimitReplicas
		case "max-sessions":
			cfg.explicit |= eventlog.LimitMaxSessions
		}
	})
	return root.Run(ctx)
}

type config struct {
	httpAddr, natsAddr, natsURL, natsCreds string
	natsTLSCert, natsTLSKey, natsTLSCA     string
	dataDir, stream, prefix                string
	maxAge                                 time.Duration
	maxMsgs, maxBytes                      int64
	replicas, maxSessions                  int
	sessionTTL, heartbeat                  time.Duration
	publishToken, sessionKeyFile           string
	queueSize, queueBytes                  int
	writeTimeout, retry                    time.Duration
	maxTopics, maxTopicLen                 int
	maxBody                                int64
	natsSync                               string
	sessionStorage                         string
	cacheEvents, cacheBytes                int
	drainTimeout, checkpointInterval       time.Duration
	checkpointRate                         int
	logLevel, logFormat, nodeID            string
	tlsCert, tlsKey                        string
	natsMaxPayload                         int
	readHeaderTimeout                      time.Duration
	maxHeaderBytes                         int
	replayBatch                            int
	corsOrigins, cookieSameSite            string
	debugAddr                              string
	lite                                   bool
	regenerateSessionKey                   bool
	explicit                               eventlog.Limit
}

func (c *config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.httpAddr, "http-addr", ":8080", "HTTP listen address")
	fs.StringVar(&c.natsAddr, "nats-addr", "127.0.0.1:4222", "embedded NATS server client listen address (\"\" for in-process only)")
	fs.StringVar(&c.natsURL, "nats-url", "", "use an existing NATS cluster (comma-separated URLs) instead of the embedded server")
	fs.StringVar(&c.natsCreds, "nats-creds", "", "NATS credentials file (with --nats-url)")
	fs.StringVar(&c.natsTLSCert, "nats-tls-cert", "", "client certificate for NATS TLS (with --nats-url)")
	fs.StringVar(&c.natsTLSKey, "nats-tls-key", "", "client key for NATS TLS (with --nats-url)")
	fs.StringVar(&c.natsTLSCA, "nats-tls-ca", "", "CA bundle to verify the NATS servers (with --nats-url)")
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for the embedded JetStream store, the session key and the generated publish token")
	fs.StringVar(&c.stream, "stream", "EVENTS", "JetStream stream name")
	fs.StringVar(&c.prefix, "subject-prefix", "events", "subject prefix: topic t is subject <prefix>.t")
	fs.DurationVar(&c.maxAge, "max-age", 24*time.Hour, "evict events older than this (0: no age limit)")
	fs.Int64Var(&c.maxMsgs, "max-msgs", 0, "keep at most this many events (0: no count limit)")
	fs.Int64Var(&c.maxBytes, "max-bytes", 1<<30, "keep at most this many bytes of events (0: no size limit)")
	fs.IntVar(&c.replicas, "replicas", 1, "stream replicas (with a NATS cluster)")
	fs.IntVar(&c.maxSessions, "max-sessions", 100_000, "consumers on the stream that detached sessions may fill (more keep only their record); the stream allows 1,024 more for edge nodes and operators")
	fs.DurationVar(&c.sessionTTL, "session-ttl", 5*time.Minute, "how long a detached session is kept")
	fs.DurationVar(&c.heartbeat, "heartbeat", 15*time.Second, "comment line interval on idle connections")
	fs.StringVar(&c.publishToken, "publish-token", "", "bearer token for POST /publish (default: generated into the data dir)")
	fs.StringVar(&c.sessionKeyFile, "session-key-file", "", "session key file: one base64 key per line, the first signs (default: generated into the data dir)")
	fs.BoolVar(&c.regenerateSessionKey, "regenerate-session-key", false, "start with a new session key although sessions exist: every token issued before becomes invalid (only without --session-key-file)")
	fs.IntVar(&c.queueSize, "queue-size", 1024, "events queued per connection before it counts as too slow")
	fs.IntVar(&c.queueBytes, "queue-bytes", 8<<20, "bytes queued per connection before it counts as too slow")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 10*time.Second, "deadline for each write to a client")
	fs.DurationVar(&c.retry, "retry", 2*time.Second, "base reconnect delay sent to clients (±50% jitter)")
	fs.IntVar(&c.maxTopics, "max-topics", 32, "topics per subscription")
	fs.IntVar(&c.maxTopicLen, "max-topic-len", 256, "bytes per topic")
	fs.Int64Var(&c.maxBody, "max-body", 1<<20, "POST /publish body limit in bytes")
	fs.StringVar(&c.natsSync, "nats-sync", "always", "embedded JetStream fsync policy: always, or an interval such as 1s or 2m (see README)")
	fs.StringVar(&c.sessionStorage, "session-storage", "memory", "detached sessions' consumer state: memory (cheap, fast to shut down; lost on a NATS restart, the session record survives) or file")
	fs.IntVar(&c.cacheEvents, "cache-events", 16384, "recent events kept in memory for fast resume")
	fs.IntVar(&c.cacheBytes, "cache-bytes", 64<<20, "bytes of recent events kept in memory for fast resume")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Second, "on SIGTERM, end connections spread over this window")
	fs.DurationVar(&c.checkpointInterval, "checkpoint-interval", 5*time.Second, "record attached sessions' positions this often (at most --checkpoint-rate records a second)")
	fs.IntVar(&c.checkpointRate, "checkpoint-rate", 200, "session record writes per second for attached sessions, per node")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.nodeID, "node-id", "", "this edge node's name (default: host name and a random suffix)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS with this certificate")
	fs.StringVar(&c.tlsKey, "tls-key", "", "serve HTTPS with this key")
	fs.IntVar(&c.natsMaxPayload, "nats-max-payload", 2<<20, "embedded NATS server's largest message in bytes")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time allowed to read request headers")
	fs.IntVar(&c.maxHeaderBytes, "max-header-bytes", 64<<10, "request header size limit")
	fs.IntVar(&c.replayBatch, "replay-batch", 1000, "events per JetStream read when replaying history")
	fs.StringVar(&c.corsOrigins, "cors-origins", "", "comma-separated origins allowed to use the edge from a browser, with credentials (exact, e.g. https://app.example.com)")
	fs.BoolVar(&c.lite, "lite", true, "serve live plain-HTTP/1 streams from a few shared goroutines instead of one per connection (Linux; TLS and HTTP/2 streams keep their own)")
	fs.StringVar(&c.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060; keep it private)")
	fs.StringVar(&c.cookieSameSite, "cookie-samesite", "lax", "session cookie SameSite: lax, strict, or none (cross-site pages; implies Secure)")
}

func newLogger(c config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", c.logFormat)
}

func serveCmd(ctx context.Context, c config, opts Options) error {
	logger, err := newLogger(c, opts.Stderr)
	if err != nil {
		return err
	}
	if c.sessionStorage != "file" && c.sessionStorage != "memory" {
		return fmt.Errorf("--session-storage: %q is not file or memory", c.sessionStorage)
	}
	sameSite, ok := map[string]http.SameSite{"lax": http.SameSiteLaxMode, "strict": http.SameSiteStrictMode, "none": http.SameSiteNoneMode}[c.cookieSameSite]
	if !ok {
		return fmt.Errorf("--cookie-samesite: %q is not lax, strict or none", c.cookieSameSite)
	}
	var corsOrigins []string
	for _, o := range strings.Split(c.corsOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			if o == "*" {
				return errors.New("--cors-origins: list exact origins; \"*\" would let any site read sessions with credentials")
			}
			corsOrigins = append(corsOrigins, strings.TrimSuffix(o, "/"))
		}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	publishToken, generated, err := loadPublishToken(c)
	if err != nil {
		return err
	}
	if generated {
		logger.Info("generated a publish token (POST /publish needs Authorization: Bearer <token>)",
			"file", filepath.Join(c.dataDir, "publish.token"), "token", publishToken)
	}
	nodeID := c.nodeID
	if nodeID == "" {
		host, _ := os.Hostname()
		nodeID = host + "-" + randomHex(4)
	}

	// NATS: embedded server, or an existing cluster.
	var (
		ns      *server.Server
		nc      *nats.Conn
		natsURL string
	)
	connOpts := []nats.Option{
		nats.Name("jetsse-edge " + nodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(64 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { logger.Info("NATS reconnected", "url", nc.ConnectedUrl()) }),
	}
	if c.natsURL == "" {
		syncAlways, syncInterval, err := parseSync(c.natsSync)
		if err != nil {
			return err
		}
		ns, err = natsembed.Start(ctx, natsembed.Config{
			ServerName:   "jetsse-" + nodeID,
			ClientAddr:   c.natsAddr,
			StoreDir:     c.dataDir,
			SyncAlways:   syncAlways,
			SyncInterval: syncInterval,
			MaxPayload:   int32(c.natsMaxPayload),
			Logger:       logger.With("component", "nats-server"),
		})
		if err != nil {
			return err
		}
		natsURL = natsembed.ClientURL(ns)
		nc, err = nats.Connect("", append(connOpts, nats.InProcessServer(ns))...)
		if err != nil {
			ns.Shutdown()
			return fmt.Errorf("connecting to the embedded NATS server: %w", err)
		}
		logger.Info("embedded NATS server running", "url", natsURL, "store", filepath.Join(c.dataDir, "jetstream"), "sync", c.natsSync)
	} else {
		if c.natsCreds != "" {
			connOpts = append(connOpts, nats.UserCredentials(c.natsCreds))
		}
		if c.natsTLSCert != "" {
			connOpts = append(connOpts, nats.ClientCert(c.natsTLSCert, c.natsTLSKey))
		}
		if c.natsTLSCA != "" {
			connOpts = append(connOpts, nats.RootCAs(c.natsTLSCA))
		}
		natsURL = c.natsURL
		nc, err = nats.Connect(c.natsURL, append(connOpts, nats.RetryOnFailedConnect(true))...)
		if err != nil {
			return fmt.Errorf("--nats-url: %w", err)
		}
	}
	shutdownNATS := func() {
		nc.Close()
		if ns != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	}

	log, err := eventlog.Open(ctx, nc, eventlog.Config{
		Stream: c.stream, Prefix: c.prefix,
		MaxAge: c.maxAge, MaxMsgs: c.maxMsgs, MaxBytes: c.maxBytes,
		Replicas: c.replicas, MaxSessions: c.maxSessions,
		SessionTTL: c.sessionTTL, SessionMemory: c.sessionStorage == "memory",
		MaxTopicLen: c.maxTopicLen, Explicit: c.explicit,
	})
	if err != nil {
		shutdownNATS()
		return err
	}
	keys, err := loadSessionKeys(ctx, c, log, logger)
	if err != nil {
		shutdownNATS()
		return err
	}

	reg := prometheus.NewRegistry()
	// Go runtime and process metrics too carry the jetsse_ prefix.
	prometheus.WrapRegistererWithPrefix("jetsse_", reg).MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := edge.NewMetrics(reg)

	hub := fanout.New(log.JetStream(), fanout.Config{
		Stream: c.stream, Prefix: c.prefix,
		CacheEvents: c.cacheEvents, CacheBytes: c.cacheBytes,
		EventsIn: m.EventsRead, CacheEventsGauge: m.CacheEvents, CacheBytesGauge: m.CacheBytes,
		StreamInfo: func(ctx context.Context) (fanout.View, error) {
			s, err := log.State(ctx)
			return fanout.View{First: s.FirstSeq, Last: s.LastSeq, Contiguous: s.Contiguous, Created: s.Created}, err
		},
		AllowType:    func(t string) bool { return !edge.IsControlType(t) },
		TypesDropped: m.ControlTypesDropped,
	})
	svc, err := edge.NewService(edge.Config{
		Store: log, Live: hub, Keys: keys, PublishToken: publishToken, NodeID: nodeID,
		Limits: edge.Limits{
			MaxTopics: c.maxTopics, MaxTopicLen: c.maxTopicLen,
			QueueEvents: c.queueSize, QueueBytes: c.queueBytes,
			ReplayBatch: c.replayBatch, Retry: c.retry,
		},
		SessionTTL: c.sessionTTL, CheckpointInterval: c.checkpointInterval, CheckpointRate: c.checkpointRate,
		Metrics: m, Logger: logger,
	})
	if err != nil {
		shutdownNATS()
		return err
	}
	var lite *edge.Lite
	if c.lite {
		if lite, err = edge.NewLite(edge.LiteConfig{
			Heartbeat: c.heartbeat, WriteTimeout: c.writeTimeout, Retry: c.retry, Logger: logger,
		}); err != nil {
			logger.Info("every connection keeps its own goroutine", "reason", err)
			lite = nil
		}
	}
	var service edge.Service = svc
	service = edge.LoggingMiddleware(logger)(service)
	service = edge.InstrumentingMiddleware(m.RequestDuration, m.RejectedRequests)(service)
	handler := edge.NewHTTPHandler(service, edge.MakeEndpoints(service), edge.HTTPConfig{
		PublishToken:   publishToken,
		Heartbeat:      c.heartbeat,
		WriteTimeout:   c.writeTimeout,
		MaxBody:        c.maxBody,
		Retry:          c.retry,
		Metrics:        refreshingMetrics(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), log, m, svc, logger),
		Logger:         logger,
		Draining:       svc.Draining,
		Web:            web.Handler(),
		CORSOrigins:    corsOrigins,
		CookieSameSite: sameSite,
		Lite:           lite,
	})

	// The HTTP listener is bound only now that JetStream is ready.
	ln, err := net.Listen("tcp", c.httpAddr)
	if err != nil {
		shutdownNATS()
		return fmt.Errorf("--http-addr: %w", err)
	}
	var dln net.Listener
	if c.debugAddr != "" {
		if dln, err = net.Listen("tcp", c.debugAddr); err != nil {
			ln.Close()
			shutdownNATS()
			return fmt.Errorf("--debug-addr: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: c.readHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    c.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}

	var g run.Group
	if opts.HandleSignals {
		g.Add(run.SignalHandler(ctx, os.Interrupt, syscall.SIGTERM))
	}
	{
		// Ends the group when the caller's context ends.
		done := make(chan struct{})
		g.Add(func() error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-done:
				return nil
			}
		}, func(error) { close(done) })
	}

	// oklog/run interrupts actors one after another, in the order they were
	// added: the HTTP server drains first (connections told to come back,
	// positions recorded) while the live path, the fence and NATS still run;
	// then the app actors stop; NATS goes last.
	httpDone := make(chan struct{}) // closed once every connection is drained
	appCtx, appCancel := context.WithCancel(context.WithoutCancel(ctx))
	{
		g.Add(func() error {
			ready := Ready{HTTPAddr: ln.Addr().String(), NATSURL: natsURL, PublishToken: publishToken, DataDir: c.dataDir}
			logger.Info("jetsse serving", "http", ln.Addr().String(), "nats", natsURL, "node", nodeID,
				"stream", c.stream, "prefix", c.prefix)
			if opts.OnReady != nil {
				go func() {
					for _, c := range []<-chan struct{}{hub.Ready(), svc.Started()} {
						select {
						case <-c:
						case <-appCtx.Done():
							return
						}
					}
					opts.OnReady(ready)
				}()
			}
			var err error
			if c.tlsCert != "" {
				err = srv.ServeTLS(ln, c.tlsCert, c.tlsKey)
			} else {
				err = srv.Serve(ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		}, func(error) {
			logger.Info("draining", "window", c.drainTimeout)
			dctx, cancel := context.WithTimeout(context.Background(), c.drainTimeout+5*time.Second)
			if err := svc.Drain(dctx, c.drainTimeout); err != nil {
				logger.Warn("drain incomplete", "err", err)
			}
			cancel()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(sctx)
			cancel()
			close(httpDone)
		})
	}
	if dln != nil {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		dsrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		g.Add(func() error {
			if err := dsrv.Serve(dln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) { _ = dsrv.Close() })
	}
	var appWG sync.WaitGroup
	appActor := func(f func(context.Context) error) (func() error, func(error)) {
		appWG.Add(1)
		return func() error {
				defer appWG.Done()
				return f(appCtx)
			}, func(error) {
				<-httpDone
				appCancel()
			}
	}
	if lite != nil {
		g.Add(appActor(lite.Run))
	}
	g.Add(appActor(hub.Run))
	g.Add(appActor(svc.Run))
	{
		natsDone := make(chan struct{})
		g.Add(func() error {
			<-natsDone
			return nil
		}, func(error) {
			<-httpDone
			appWG.Wait()
			log.Close()
			shutdownNATS()
			close(natsDone)
		})
	}
	err = g.Run()
	var se run.SignalError
	if errors.As(err, &se) || errors.Is(err, context.Canceled) {
		logger.Info("stopped", "reason", err)
		return nil
	}
	return err
}

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
	if n, err := log.StoredSessions(ctx); err == nil {
		m.SessionsStored.Set(float64(n))
	}
}

func parseSync(s string) (always bool, interval time.Duration, err error) {
	if s == "always" {
		return true, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("--nats-sync: %q is not \"always\" or a positive duration", s)
	}
	return false, d, nil
}

// loadSessionKeys reads --session-key-file, or the key file in the data
// dir. A missing key file in the data dir is generated, unless sessions
// exist already: they were signed with the lost key, and a new one would
// silently turn every reconnect into a new session that starts live, losing
// the events published meanwhile. That refuses to start, unless
// --regenerate-session-key says to go on (and it is logged).
func loadSessionKeys(ctx context.Context, c config, log *eventlog.Log, logger *slog.Logger) (*session.Keyring, error) {
	if c.sessionKeyFile != "" {
		keys, err := session.LoadOrCreateKeyFile(c.sessionKeyFile, false, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("--session-key-file: %w", err)
		}
		return keys, nil
	}
	path := filepath.Join(c.dataDir, "session.key")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		sessions, err := log.StoredSessions(ctx)
		if err != nil {
			return nil, fmt.Errorf("checking for sessions before making a session key: %w", err)
		}
		switch {
		case sessions > 0 && !c.regenerateSessionKey:
			return nil, fmt.Errorf("session key %s is missing, but %d sessions exist: they were signed with it. "+
				"Restore the file (or pass the key with --session-key-file); "+
				"or start with --regenerate-session-key to make a new key, ending every session (clients start over without their missed events)", path, sessions)
		case sessions > 0:
			logger.Warn("made a new session key: every session token issued before is now invalid", "file", path, "sessions", sessions)
		default:
			logger.Info("made a new session key", "file", path)
		}
	}
	keys, err := session.LoadOrCreateKeyFile(path, true, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	return keys, nil
}

// loadPublishToken returns --publish-token, or the token stored in the data
// dir, generating one on first start so /publish is never open.
func loadPublishToken(c config) (token string, generated bool, err error) {
	if c.publishToken != "" {
		return c.publishToken, false, nil
	}
	path := filepath.Join(c.dataDir, "publish.token")
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), false, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("reading %s: %w", path, err)
	}
	token = randomHex(24)
	if err := atomicfile.Write(path, []byte(token+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return token, true, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
