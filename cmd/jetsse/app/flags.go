package app

import (
	"flag"
	"time"

	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/services/edge/natstransport"
)

// config is `jetsse serve`'s flags (the environment fills what the command
// line leaves unset: JETSSE_HTTP_ADDR for --http-addr, and so on).
type config struct {
	httpAddr, natsAddr, natsURL, natsCreds string
	natsUser, natsPassword                 string
	natsRequireAuth                        bool
	natsTLSCert, natsTLSKey, natsTLSCA     string
	dataDir, stream, prefix                string
	maxAge                                 time.Duration
	maxMsgs, maxBytes                      int64
	replicas, maxSessions                  int
	sessionTTL, heartbeat                  time.Duration
	publishToken, sessionKeyFile           string
	regenerateSessionKey                   bool
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
	natsMaxPayload                         int32
	readHeaderTimeout                      time.Duration
	maxHeaderBytes                         int
	replayBatch                            int
	maxBatch                               int
	corsOrigins, cookieSameSite            string
	adminAddr, adminToken                  string
	lite                                   bool

	// Authorization and abuse limits (docs/protocol.md, "Authorization"
	// and "Limits").
	authMode, jwtKeyFile, jwtPublicKeyFile string
	jwtJWKSFile, jwtIssuer, jwtAudience    string
	jwtLeeway                              time.Duration
	anonymousSubscribe                     string
	allowAnonymous                         bool
	trustedProxy                           string
	maxConnections, maxConnectionsPerIP    int
	newSessionsRate, newSessionsPerIPRate  float64
	lifecyclePrefix                        string

	// explicit lists the stream limits given explicitly: only those are
	// applied to a stream that exists already.
	explicit eventlog.Limit
}

func (c *config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address (beyond loopback, e.g. :8080, it needs --auth jwt or --allow-anonymous)")
	fs.StringVar(&c.natsAddr, "nats-addr", "127.0.0.1:4222", "embedded NATS server client listen address (\"\" for in-process only); an address other hosts can reach requires credentials (see --nats-password)")
	fs.StringVar(&c.natsURL, "nats-url", "", "use an existing NATS cluster (comma-separated URLs) instead of the embedded server")
	fs.StringVar(&c.natsCreds, "nats-creds", "", "NATS credentials file (with --nats-url)")
	fs.StringVar(&c.natsUser, "nats-user", "", "embedded NATS server: the user NATS clients authenticate as (default jetsse); with --nats-url: the user to connect as (with --nats-password)")
	fs.StringVar(&c.natsPassword, "nats-password", "", "embedded NATS server: the password NATS clients must present, at least 16 characters (default: generated into the data dir as nats.password); with --nats-url: the password to connect with")
	fs.BoolVar(&c.natsRequireAuth, "nats-require-auth", false, "embedded NATS server: require credentials on a loopback-only --nats-addr too (any other address always requires them)")
	fs.StringVar(&c.natsTLSCert, "nats-tls-cert", "", "client certificate for NATS TLS (with --nats-url)")
	fs.StringVar(&c.natsTLSKey, "nats-tls-key", "", "client key for NATS TLS (with --nats-url)")
	fs.StringVar(&c.natsTLSCA, "nats-tls-ca", "", "CA bundle to verify the NATS servers (with --nats-url)")
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for the embedded JetStream store, the session key and the generated publish token")
	fs.StringVar(&c.stream, "stream", defaults.Stream, "JetStream stream name")
	fs.StringVar(&c.prefix, "subject-prefix", defaults.SubjectPrefix, "subject prefix: topic t is subject <prefix>.t")
	fs.DurationVar(&c.maxAge, "max-age", defaults.MaxAge, "evict events older than this (0: no age limit)")
	fs.Int64Var(&c.maxMsgs, "max-msgs", defaults.MaxMsgs, "keep at most this many events (0: no count limit)")
	sizeVar(fs, &c.maxBytes, "max-bytes", defaults.MaxBytes, "keep at most this many bytes of events (0: no size limit)")
	fs.IntVar(&c.replicas, "replicas", defaults.Replicas, "stream replicas (with a NATS cluster)")
	fs.IntVar(&c.maxSessions, "max-sessions", defaults.MaxSessions, "consumers on the stream that detached sessions may fill (more keep only their record); the stream allows 1,024 more for edge nodes and operators")
	fs.DurationVar(&c.sessionTTL, "session-ttl", defaults.SessionTTL, "how long a detached session is kept")
	fs.DurationVar(&c.heartbeat, "heartbeat", defaults.Heartbeat, "comment line interval on idle connections")
	fs.StringVar(&c.publishToken, "publish-token", "", "bearer token for POST /publish, at least 16 bytes (default: generated into the data dir as publish.token)")
	fs.StringVar(&c.sessionKeyFile, "session-key-file", "", "session key file: one base64 key per line, the first signs (default: generated into the data dir)")
	fs.BoolVar(&c.regenerateSessionKey, "regenerate-session-key", false, "start with a new session key although sessions exist: every token issued before becomes invalid (only without --session-key-file)")
	fs.IntVar(&c.queueSize, "queue-size", defaults.QueueEvents, "events queued per connection before it counts as too slow")
	sizeVar(fs, &c.queueBytes, "queue-bytes", defaults.QueueBytes, "bytes queued per connection before it counts as too slow")
	fs.DurationVar(&c.writeTimeout, "write-timeout", defaults.WriteTimeout, "deadline for each write to a client")
	fs.DurationVar(&c.retry, "retry", defaults.Retry, "base reconnect delay sent to clients (±50% jitter)")
	fs.IntVar(&c.maxTopics, "max-topics", defaults.MaxTopics, "topics per subscription")
	fs.IntVar(&c.maxTopicLen, "max-topic-len", defaults.MaxTopicLen, "bytes per topic")
	sizeVar(fs, &c.maxBody, "max-body", defaults.MaxBody, "POST /publish body limit")
	fs.StringVar(&c.natsSync, "nats-sync", "always", "embedded JetStream fsync policy: always, or an interval such as 1s or 2m (see README)")
	fs.StringVar(&c.sessionStorage, "session-storage", "memory", "detached sessions' consumer state: memory (cheap, fast to shut down; lost on a NATS restart, the session record survives) or file")
	fs.IntVar(&c.cacheEvents, "cache-events", defaults.CacheEvents, "recent events kept in memory for fast resume")
	sizeVar(fs, &c.cacheBytes, "cache-bytes", defaults.CacheBytes, "bytes of recent events kept in memory for fast resume")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", defaults.DrainTimeout, "on SIGTERM, end connections spread over this window")
	fs.DurationVar(&c.checkpointInterval, "checkpoint-interval", defaults.CheckpointInterval, "record attached sessions' positions this often (at most --checkpoint-rate records a second)")
	fs.IntVar(&c.checkpointRate, "checkpoint-rate", defaults.CheckpointRate, "session record writes per second for attached sessions, per node")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.nodeID, "node-id", "", "this edge node's name (default: host name and a random suffix)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS with this certificate")
	fs.StringVar(&c.tlsKey, "tls-key", "", "serve HTTPS with this key")
	sizeVar(fs, &c.natsMaxPayload, "nats-max-payload", 2<<20, "embedded NATS server's largest message")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time allowed to read request headers")
	sizeVar(fs, &c.maxHeaderBytes, "max-header-bytes", 64<<10, "request header size limit")
	fs.IntVar(&c.replayBatch, "replay-batch", defaults.ReplayBatch, "events per JetStream read when replaying history")
	fs.IntVar(&c.maxBatch, "max-batch", defaults.MaxBatch, "events per POST /publish batch (the body stays within --max-body)")
	fs.StringVar(&c.corsOrigins, "cors-origins", "", "comma-separated origins allowed to use the edge from a browser, with credentials (exact, e.g. https://app.example.com)")
	fs.BoolVar(&c.lite, "lite", true, "serve live plain-HTTP/1 streams from a few shared goroutines instead of one per connection (Linux; TLS and HTTP/2 streams keep their own)")
	fs.StringVar(&c.adminAddr, "admin-addr", "127.0.0.1:9090", "admin listen address: GET /metrics (no token), and /readyz with the reason and Go's pprof under /debug/pprof/ (admin token); \"\" for none. Keep it private")
	fs.StringVar(&c.adminToken, "admin-token", "", "bearer token for the admin listener, at least 16 bytes (default: generated into the data dir as admin.token)")
	fs.StringVar(&c.authMode, "auth", "none", "subscriber authentication: none (everyone may read every topic; only on a loopback --http-addr unless --allow-anonymous) or jwt")
	fs.BoolVar(&c.allowAnonymous, "allow-anonymous", false, "allow --auth none on an --http-addr reachable beyond loopback (anyone who reaches it reads every topic)")
	fs.StringVar(&c.jwtKeyFile, "jwt-key-file", "", "with --auth jwt: HS256 shared secret file (at least 32 bytes, mode 0600)")
	fs.StringVar(&c.jwtPublicKeyFile, "jwt-public-key-file", "", "with --auth jwt: PEM public key (RS256, ES256/384/512 or EdDSA, by the key's type)")
	fs.StringVar(&c.jwtJWKSFile, "jwt-jwks-file", "", "with --auth jwt: JSON Web Key Set file (tokens name their key with kid)")
	fs.StringVar(&c.jwtIssuer, "jwt-issuer", "", "with --auth jwt: required iss claim")
	fs.StringVar(&c.jwtAudience, "jwt-audience", "", "with --auth jwt: required aud claim")
	fs.DurationVar(&c.jwtLeeway, "jwt-leeway", auth.DefaultLeeway, "clock skew tolerated on exp and nbf")
	fs.StringVar(&c.anonymousSubscribe, "anonymous-subscribe", "", "with --auth jwt: comma-separated topic patterns clients without a token may subscribe to (default: none, a token is required)")
	fs.StringVar(&c.trustedProxy, "trusted-proxy", "", "comma-separated CIDRs of proxies whose Forwarded / X-Forwarded-For / X-Forwarded-Proto are believed (client address for limits, TLS for the cookie)")
	fs.IntVar(&c.maxConnections, "max-connections", defaults.MaxConnections, "SSE connections this node holds at once (0: no limit)")
	fs.IntVar(&c.maxConnectionsPerIP, "max-connections-per-ip", defaults.MaxConnectionsPerClient, "SSE connections per client address (IPv6: per /64) at once (0: no limit)")
	fs.Float64Var(&c.newSessionsRate, "new-sessions-per-second", defaults.NewSessionsPerSecond, "new sessions this node makes a second, with a burst of 5 s worth (0: no limit)")
	fs.Float64Var(&c.newSessionsPerIPRate, "new-sessions-per-ip-per-second", defaults.NewSessionsPerClientPerSecond, "new sessions a client address (IPv6: per /64) may make a second, with a burst of 5 s worth (0: no limit)")
	fs.StringVar(&c.lifecyclePrefix, "lifecycle-prefix", natstransport.DefaultPrefix, "NATS subject prefix of the session lifecycle events: <prefix>.<kind>.<session id>")
	fs.StringVar(&c.cookieSameSite, "cookie-samesite", "lax", "session cookie SameSite: lax, strict, or none (cross-site pages; implies Secure)")
}

// noteExplicit records which stream limits fs was given (on the command
// line or in the environment).
func (c *config) noteExplicit(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "max-age":
			c.explicit |= eventlog.LimitMaxAge
		case "max-msgs":
			c.explicit |= eventlog.LimitMaxMsgs
		case "max-bytes":
			c.explicit |= eventlog.LimitMaxBytes
		case "replicas":
			c.explicit |= eventlog.LimitReplicas
		case "max-sessions":
			c.explicit |= eventlog.LimitMaxSessions
		}
	})
}
