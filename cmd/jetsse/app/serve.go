package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/natsembed"
	"github.com/jetsse/jetsse/services/edge"
	"github.com/jetsse/jetsse/services/edge/httptransport"
	"github.com/jetsse/jetsse/services/edge/natstransport"
	"github.com/jetsse/jetsse/services/edge/web"
)

// serveCmd runs `jetsse serve`: it checks the flags, connects to NATS
// (embedded or a cluster), builds the edge, and runs it until ctx ends or
// a signal (with Options.HandleSignals) stops it.
func serveCmd(ctx context.Context, c config, opts Options) error {
	s, err := validate(c, opts)
	if err != nil {
		return err
	}
	n, err := connect(ctx, c, s)
	if err != nil {
		return err
	}
	p, err := build(ctx, c, s, n)
	if err != nil {
		n.close()
		return err
	}
	return serve(ctx, c, opts, s, n, p)
}

// settings are what validate derived from the flags.
type settings struct {
	logger      *slog.Logger
	sameSite    http.SameSite
	corsOrigins []string
	nodeID      string
	auth        *httptransport.Auth
	proxies     *httptransport.Proxies
}

// validate checks the flags that can be checked without NATS, and makes the
// data dir.
func validate(c config, opts Options) (settings, error) {
	var s settings
	var err error
	if s.logger, err = newLogger(c, opts.Stderr); err != nil {
		return s, err
	}
	if err := checkSubjects(c); err != nil {
		return s, err
	}
	if strings.ContainsAny(c.nodeID, "/ \t\r\n") {
		return s, fmt.Errorf("--node-id: %q has a slash or a space", c.nodeID)
	}
	if c.sessionStorage != "file" && c.sessionStorage != "memory" {
		return s, fmt.Errorf("--session-storage: %q is not file or memory", c.sessionStorage)
	}
	var ok bool
	s.sameSite, ok = map[string]http.SameSite{"lax": http.SameSiteLaxMode, "strict": http.SameSiteStrictMode, "none": http.SameSiteNoneMode}[c.cookieSameSite]
	if !ok {
		return s, fmt.Errorf("--cookie-samesite: %q is not lax, strict or none", c.cookieSameSite)
	}
	for _, o := range strings.Split(c.corsOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			if o == "*" {
				return s, errors.New("--cors-origins: list exact origins; \"*\" would let any site read sessions with credentials")
			}
			s.corsOrigins = append(s.corsOrigins, strings.TrimSuffix(o, "/"))
		}
	}
	if s.auth, s.proxies, err = authSettings(c, s.logger); err != nil {
		return s, err
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return s, errors.New("--tls-cert and --tls-key go together")
	}
	if _, _, err := parseSync(c.natsSync); err != nil && c.natsURL == "" {
		return s, err
	}
	if err := checkNATSCredentials(c); err != nil {
		return s, err
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return s, fmt.Errorf("--data-dir: %w", err)
	}
	s.nodeID = c.nodeID
	if s.nodeID == "" {
		host, _ := os.Hostname()
		s.nodeID = host + "-" + randomHex(4)
	}
	return s, nil
}

// natsConn is the edge's connection to NATS, and the embedded server when
// there is one.
type natsConn struct {
	nc   *nats.Conn
	ns   *server.Server // nil with --nats-url
	url  string         // what NATS clients use ("" without a client listener)
	auth natsAuth       // what clients of the embedded server present (zero: nothing)
}

// close disconnects and stops the embedded server.
func (n natsConn) close() {
	n.nc.Close()
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}

// connect starts the embedded NATS server and connects to it in-process,
// or connects to the cluster of --nats-url. The embedded server requires
// credentials as embeddedNATSAuth decides, and the edge presents them too.
func connect(ctx context.Context, c config, s settings) (natsConn, error) {
	logger := s.logger
	connOpts := []nats.Option{
		nats.Name("jetsse-edge " + s.nodeID),
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
	if c.natsURL != "" {
		if c.natsCreds != "" {
			connOpts = append(connOpts, nats.UserCredentials(c.natsCreds))
		}
		if c.natsUser != "" {
			connOpts = append(connOpts, nats.UserInfo(c.natsUser, c.natsPassword))
		}
		if c.natsTLSCert != "" {
			connOpts = append(connOpts, nats.ClientCert(c.natsTLSCert, c.natsTLSKey))
		}
		if c.natsTLSCA != "" {
			connOpts = append(connOpts, nats.RootCAs(c.natsTLSCA))
		}
		nc, err := nats.Connect(c.natsURL, append(connOpts, nats.RetryOnFailedConnect(true))...)
		if err != nil {
			return natsConn{}, fmt.Errorf("--nats-url: %w", err)
		}
		return natsConn{nc: nc, url: c.natsURL}, nil
	}
	syncAlways, syncInterval, _ := parseSync(c.natsSync)
	na, err := embeddedNATSAuth(c)
	if err != nil {
		return natsConn{}, err
	}
	ns, err := natsembed.Start(ctx, natsembed.Config{
		ServerName:   "jetsse-" + s.nodeID,
		ClientAddr:   c.natsAddr,
		StoreDir:     c.dataDir,
		SyncAlways:   syncAlways,
		SyncInterval: syncInterval,
		MaxPayload:   int32(c.natsMaxPayload),
		Username:     na.user,
		Password:     na.password,
		Logger:       logger.With("component", "nats-server"),
	})
	if err != nil {
		na.forget()
		return natsConn{}, err
	}
	connOpts = append(connOpts, nats.InProcessServer(ns))
	if na.required() {
		connOpts = append(connOpts, nats.UserInfo(na.user, na.password))
	}
	nc, err := nats.Connect("", connOpts...)
	if err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		na.forget()
		return natsConn{}, fmt.Errorf("connecting to the embedded NATS server: %w", err)
	}
	url := natsembed.ClientURL(ns)
	logger.Info("embedded NATS server running", "url", url, "store", filepath.Join(c.dataDir, "jetstream"), "sync", c.natsSync,
		"auth", na.required())
	logNATSAuth(logger, ns, na)
	return natsConn{nc: nc, ns: ns, url: url, auth: na}, nil
}

// parts are the edge's running pieces.
type parts struct {
	log          *eventlog.Log
	hub          *fanout.Hub
	svc          *edge.Edge
	lite         *httptransport.Lite
	srv          *http.Server
	admin        *http.Server // nil without --admin-addr
	ln, aln      net.Listener // the HTTP listener; the admin one (nil without --admin-addr)
	publishToken string
	adminToken   string
}

// build provisions JetStream, loads the secrets and makes the edge, its
// HTTP handler and listeners. The HTTP listener is bound only now that
// JetStream is ready.
func build(ctx context.Context, c config, s settings, n natsConn) (*parts, error) {
	logger := s.logger
	reg := prometheus.NewRegistry()
	// Go runtime and process metrics too carry the jetsse_ prefix.
	prometheus.WrapRegistererWithPrefix("jetsse_", reg).MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := edge.NewMetrics(reg)

	log, err := eventlog.Open(ctx, n.nc, eventlog.Config{
		Stream: c.stream, Prefix: c.prefix,
		MaxAge: c.maxAge, MaxMsgs: c.maxMsgs, MaxBytes: c.maxBytes,
		Replicas: c.replicas, MaxSessions: c.maxSessions,
		SessionTTL: c.sessionTTL, SessionMemory: c.sessionStorage == "memory",
		MaxTopicLen: c.maxTopicLen, MaxTopics: c.maxTopics, Explicit: c.explicit,
		Observe: m.ObserveJetStream,
	})
	if err != nil {
		return nil, err
	}
	keys, err := loadSessionKeys(ctx, c, log, logger)
	if err != nil {
		return nil, err
	}
	publishToken, adminToken, err := loadTokens(c, logger)
	if err != nil {
		return nil, err
	}

	hub := fanout.New(fanout.Config{
		CacheEvents: c.cacheEvents, CacheBytes: c.cacheBytes,
		EventsIn: m.EventsRead, CacheEventsGauge: m.CacheEvents, CacheBytesGauge: m.CacheBytes,
		AllowType:    func(t string) bool { return !edge.IsControlType(t) },
		TypesDropped: m.ControlTypesDropped,
	})
	svc, err := edge.NewService(edge.Config{
		Store: log, Live: hub, Keys: keys, NodeID: s.nodeID,
		Limits: edge.Limits{
			MaxTopics: c.maxTopics, MaxTopicLen: c.maxTopicLen,
			QueueEvents: c.queueSize, QueueBytes: c.queueBytes, ReplayBatch: c.replayBatch, MaxBatch: c.maxBatch,
		},
		Admission:  admission(c),
		Lifecycle:  natstransport.NewPublisher(n.nc, c.lifecyclePrefix, logger),
		SessionTTL: c.sessionTTL, CheckpointInterval: c.checkpointInterval, CheckpointRate: c.checkpointRate,
		Metrics: m, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	s.auth.PublishToken = publishToken
	lite := newLite(c, logger)
	var service edge.Service = svc
	service = edge.LoggingMiddleware(logger)(service)
	service = edge.InstrumentingMiddleware(m.RequestDuration, m.RejectedRequests)(service)
	handler := httptransport.NewHandler(service, edge.MakeEndpoints(service), httptransport.Config{
		Auth:           s.auth,
		Proxies:        s.proxies,
		MaxHeaderBytes: c.maxHeaderBytes,
		OnLimit:        func(l string) { m.LimitHits.With("limit", l).Add(1) },
		Heartbeat:      c.heartbeat,
		WriteTimeout:   c.writeTimeout,
		MaxBody:        c.maxBody,
		Retry:          c.retry,
		Logger:         logger,
		Draining:       svc.Draining,
		Web:            web.Handler(),
		CORSOrigins:    s.corsOrigins,
		CookieSameSite: s.sameSite,
		Lite:           lite,
	})

	p := &parts{log: log, hub: hub, svc: svc, lite: lite, publishToken: publishToken, adminToken: adminToken}
	if c.adminAddr != "" {
		metrics := refreshingMetrics(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), log, m, svc, logger)
		p.admin = adminServer(adminToken, metrics, service.Ready,
			httptransport.AdminAPIRoutes(edge.MakeAdminEndpoints(svc), adminErrorLog{logger}), logger)
	}
	p.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: c.readHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		// The handler answers requests over --max-header-bytes (431, JSON,
		// counted); net/http itself refuses ones far larger.
		MaxHeaderBytes: 2 * c.maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return p, p.listen(c)
}

// listen binds the HTTP listener, and the admin one with --admin-addr.
func (p *parts) listen(c config) error {
	var err error
	if p.ln, err = net.Listen("tcp", c.httpAddr); err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	if p.aln, err = listenAdmin(c); err != nil {
		p.ln.Close()
		return err
	}
	return nil
}

// newLite returns the pooled writer (--lite), or nil where the system has
// none: every stream then keeps its handler's goroutine.
func newLite(c config, logger *slog.Logger) *httptransport.Lite {
	if !c.lite {
		return nil
	}
	lite, err := httptransport.NewLite(httptransport.LiteConfig{
		Heartbeat: c.heartbeat, WriteTimeout: c.writeTimeout, Retry: c.retry, Logger: logger,
	})
	if err != nil {
		logger.Info("every connection keeps its own goroutine", "reason", err)
		return nil
	}
	return lite
}

// serve runs every part as an oklog/run actor until ctx ends or a signal
// comes. Actors are interrupted in the order they were added: the HTTP
// server drains first (connections told to come back, positions recorded)
// while the live path, the claims watch and NATS still run; then the app
// actors stop; NATS goes last.
func serve(ctx context.Context, c config, opts Options, s settings, n natsConn, p *parts) error {
	logger := s.logger
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
	httpDone := make(chan struct{}) // closed once every connection is drained
	appCtx, appCancel := context.WithCancel(context.WithoutCancel(ctx))
	g.Add(httpActor(c, opts, s, n, p, appCtx, httpDone))
	if p.aln != nil {
		g.Add(adminActor(p.aln, p.admin))
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
	if p.lite != nil {
		g.Add(appActor(p.lite.Run))
	}
	g.Add(appActor(func(ctx context.Context) error { return p.hub.Run(ctx, p.log.LiveSource()) }))
	g.Add(appActor(p.svc.Run))
	{
		natsDone := make(chan struct{})
		g.Add(func() error {
			<-natsDone
			return nil
		}, func(error) {
			<-httpDone
			appWG.Wait()
			n.close()
			close(natsDone)
		})
	}
	err := g.Run()
	var se run.SignalError
	if errors.As(err, &se) || errors.Is(err, context.Canceled) {
		logger.Info("stopped", "reason", err)
		return nil
	}
	return err
}

// httpActor serves HTTP until interrupted, then drains: connections end
// spread over --drain-timeout, positions are recorded, and httpDone closes.
// OnReady (if set) is called once the live path reads and the service runs.
func httpActor(c config, opts Options, s settings, n natsConn, p *parts, appCtx context.Context, httpDone chan struct{}) (func() error, func(error)) {
	logger := s.logger
	return func() error {
			adminAddr := ""
			if p.aln != nil {
				adminAddr = p.aln.Addr().String()
			}
			logger.Info("jetsse serving", "http", p.ln.Addr().String(), "admin", adminAddr, "nats", n.url, "node", s.nodeID,
				"stream", c.stream, "prefix", c.prefix)
			if opts.OnReady != nil {
				ready := Ready{HTTPAddr: p.ln.Addr().String(), NATSURL: n.url, PublishToken: p.publishToken, DataDir: c.dataDir,
					NATSUser: n.auth.user, NATSPassword: n.auth.password, NodeID: s.nodeID,
					AdminAddr: adminAddr, AdminToken: p.adminToken}
				go func() {
					for _, ch := range []<-chan struct{}{p.hub.Ready(), p.svc.Started()} {
						select {
						case <-ch:
						case <-appCtx.Done():
							return
						}
					}
					opts.OnReady(ready)
				}()
			}
			var err error
			if c.tlsCert != "" {
				err = p.srv.ServeTLS(p.ln, c.tlsCert, c.tlsKey)
			} else {
				err = p.srv.Serve(p.ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		}, func(error) {
			logger.Info("draining", "window", c.drainTimeout)
			dctx, cancel := context.WithTimeout(context.Background(), c.drainTimeout+5*time.Second)
			if err := p.svc.Drain(dctx, c.drainTimeout); err != nil {
				logger.Warn("drain incomplete", "err", err)
			}
			cancel()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = p.srv.Shutdown(sctx)
			cancel()
			close(httpDone)
		}
}

// checkSubjects checks the subject prefixes: literal NATS subjects, and the
// lifecycle events outside the event stream's subjects (they would be
// stored as events, and delivered to subscribers).
func checkSubjects(c config) error {
	for _, f := range []struct{ flag, value string }{{"--subject-prefix", c.prefix}, {"--lifecycle-prefix", c.lifecyclePrefix}} {
		for _, tok := range strings.Split(f.value, ".") {
			if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
				return fmt.Errorf("%s: %q is not a NATS subject of literal tokens (like \"a.b\")", f.flag, f.value)
			}
		}
	}
	if c.lifecyclePrefix == c.prefix || strings.HasPrefix(c.lifecyclePrefix, c.prefix+".") {
		return fmt.Errorf("--lifecycle-prefix: %q is under --subject-prefix %q: lifecycle events would be stored as events", c.lifecyclePrefix, c.prefix)
	}
	return nil
}
