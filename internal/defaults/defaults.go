// Package defaults holds every default of jetsse's configuration in one
// place: the command's flags show them, the packages fall back to them when
// a field is left zero, and tests read them instead of repeating numbers.
// docs/protocol.md states the ones clients see.
package defaults

import "time"

// The stream and the session bucket.
const (
	Stream        = "EVENTS"
	SubjectPrefix = "events"
	SessionBucket = "jetsse_sessions"
	MaxAge        = 24 * time.Hour
	MaxMsgs       = 0       // unbounded
	MaxBytes      = 1 << 30 // 1 GiB
	Replicas      = 1
	// MaxSessions bounds the stream's consumers that detached sessions may
	// fill; ReservedConsumers more stay for edge nodes and operators.
	// A detached session's consumer costs about 44 KiB of the NATS
	// server's memory (docs/benchmarks.md): 20,000 bound that to about
	// 860 MiB; sessions beyond keep their record only.
	MaxSessions       = 20_000
	ReservedConsumers = 1024
	SessionTTL        = 5 * time.Minute
	// SessionBucketBytes bounds the session records: a flood at the
	// default new-session rate (200 a second, kept SessionTTL) makes at
	// most 60,000, about 17 KiB each at the largest (32 topics of 256
	// bytes).
	SessionBucketBytes = 1 << 30
	// APIConcurrency bounds JetStream API requests in flight per node.
	APIConcurrency = 64
)

// Sessions' recorded positions.
const (
	CheckpointInterval = 5 * time.Second
	CheckpointRate     = 200 // record writes a second per node
	StoreCheck         = 2 * time.Second
	ChangeDelay        = 250 * time.Millisecond
)

// What clients may ask for.
const (
	MaxTopics   = 32
	MaxTopicLen = 256 // bytes
	MaxEventLen = 256 // bytes of an event type
	MaxBody     = 1 << 20
	ReplayBatch = 1000 // events per JetStream read
	MaxBatch    = 1000 // events per POST /publish batch
)

// Connections.
const (
	Heartbeat    = 15 * time.Second
	WriteTimeout = 10 * time.Second
	Retry        = 2 * time.Second // base reconnect delay; ±50% jitter
	QueueEvents  = 1024            // per connection
	QueueBytes   = 8 << 20         // per connection
	DrainTimeout = 10 * time.Second
)

// Admission limits, per node and per client address (see
// docs/protocol.md, "Limits").
const (
	MaxConnections                = 50_000
	MaxConnectionsPerClient       = 1_000
	NewSessionsPerSecond          = 200.0
	NewSessionsPerClientPerSecond = 20.0
	// LimitRetry is when a client refused by a connection limit is told to
	// come back.
	LimitRetry = 10 * time.Second
)

// The live path's cache of recent events.
const (
	CacheEvents = 16384
	CacheBytes  = 64 << 20
)
