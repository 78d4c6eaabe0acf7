package eventlog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// streamConfig is the stream as the configuration describes it.
func (l *Log) streamConfig() jetstream.StreamConfig {
	cfg := l.cfg
	dup := 2 * time.Minute
	if cfg.MaxAge > 0 && cfg.MaxAge < dup {
		dup = cfg.MaxAge
	}
	return jetstream.StreamConfig{
		Name:              cfg.Stream,
		Description:       "jetsse events",
		Subjects:          []string{cfg.Prefix + ".>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            cfg.MaxAge,
		MaxMsgs:           orUnlimited(cfg.MaxMsgs),
		MaxBytes:          orUnlimited(cfg.MaxBytes),
		MaxMsgSize:        l.maxMsgSize(cfg.MaxBytes),
		MaxMsgsPerSubject: -1,
		MaxConsumers:      cfg.MaxSessions + ReservedConsumers,
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		Duplicates:        dup,
		AllowDirect:       true,
	}
}

// maxMsgSize is the largest message (headers and data) a stream of
// maxBytes can hold next to its subject and the store's per-message
// overhead, so that a message that can never fit is refused by JetStream
// itself instead of being stored and evicting everything, itself included.
func (l *Log) maxMsgSize(maxBytes int64) int32 {
	if maxBytes <= 0 {
		return -1
	}
	room := maxBytes - storeOverhead - int64(len(l.cfg.Prefix)+1+l.cfg.MaxTopicLen)
	switch {
	case room < 1:
		return 1
	case room > math.MaxInt32:
		return -1
	}
	return int32(room)
}

// storeOverhead is what JetStream's file store adds to each message's
// subject, headers and data when it counts bytes against MaxBytes.
const storeOverhead = 34

// provisionStream creates the stream if it is missing. With update set, an
// existing stream gets the explicit limits and the edge's requirements.
func (l *Log) provisionStream(ctx context.Context, update bool) error {
	want := l.streamConfig()
	s, err := l.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := l.js.CreateStream(ctx, want); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("stream %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", want.Name, err)
	}
	if !update {
		return nil
	}
	cur := s.CachedInfo().Config
	next := cur
	ex := l.cfg.Explicit
	if ex&LimitMaxAge != 0 {
		next.MaxAge = want.MaxAge
		next.Duplicates = want.Duplicates
	}
	if ex&LimitMaxMsgs != 0 {
		next.MaxMsgs = want.MaxMsgs
	}
	if ex&LimitMaxBytes != 0 {
		next.MaxBytes, next.MaxMsgSize = want.MaxBytes, want.MaxMsgSize
	}
	if ex&LimitReplicas != 0 {
		next.Replicas = want.Replicas
	}
	if ex&LimitMaxSessions != 0 {
		next.MaxConsumers = want.MaxConsumers
	}
	// What the edge cannot work without.
	if !slices.Contains(next.Subjects, want.Subjects[0]) {
		next.Subjects = append(slices.Clone(next.Subjects), want.Subjects[0])
	}
	next.AllowDirect = true
	if reflect.DeepEqual(next, cur) {
		return nil
	}
	if _, err := l.js.UpdateStream(ctx, next); err != nil {
		return fmt.Errorf("stream %s: %w", want.Name, err)
	}
	return nil
}

// bucketConfig is the session bucket's stream. It is a KV bucket whose
// stream jetsse configures itself, so a single-replica bucket can persist
// asynchronously: records are rewritten often, and losing the newest to a
// power cut only repeats a few events. (JetStream refuses async persistence
// on replicated streams; those flush asynchronously unless the server
// syncs always.)
func (l *Log) bucketConfig() jetstream.StreamConfig {
	cfg := l.cfg
	kvDup := 2 * time.Minute
	if cfg.SessionTTL < kvDup {
		kvDup = cfg.SessionTTL
	}
	kvs := jetstream.StreamConfig{
		Name:              "KV_" + cfg.SessionBucket,
		Description:       "jetsse sessions: claim (the attached connection), position, topics; the newest claim of a session wins",
		Subjects:          []string{"$KV." + cfg.SessionBucket + ".>"},
		MaxMsgsPerSubject: 1,
		MaxBytes:          cfg.SessionBucketBytes,
		MaxAge:            cfg.SessionTTL,
		MaxMsgSize:        int32(MaxRecordSize(cfg.MaxTopics, cfg.MaxTopicLen)),
		// Where a record expires JetStream leaves a marker (kept
		// markerTTL): the edge nodes announce the expiry from it.
		AllowMsgTTL:            true,
		SubjectDeleteMarkerTTL: markerTTL,
		Storage:                jetstream.FileStorage,
		Replicas:               cfg.Replicas,
		AllowRollup:            true,
		DenyDelete:             true,
		Duplicates:             kvDup,
		MaxMsgs:                -1,
		MaxConsumers:           -1,
		AllowDirect:            true,
		Discard:                jetstream.DiscardNew,
	}
	if cfg.Replicas == 1 {
		kvs.PersistMode = jetstream.AsyncPersistMode
	}
	return kvs
}

// provisionBucket creates the session bucket if it is missing (reporting
// created) and opens it. With update set, an existing bucket's limits are
// brought to the configuration: the bucket is the edge's own state, and
// its max age must match --session-ttl.
func (l *Log) provisionBucket(ctx context.Context, update bool) (created bool, err error) {
	kvs := l.bucketConfig()
	_, err = l.js.CreateStream(ctx, kvs)
	switch {
	case err == nil:
		created = true
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		if update {
			cur, err := l.js.Stream(ctx, kvs.Name)
			if err != nil {
				return false, fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
			}
			// The persist mode of an existing bucket cannot change.
			kvs.PersistMode = cur.CachedInfo().Config.PersistMode
			if _, err := l.js.UpdateStream(ctx, kvs); err != nil {
				return false, fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
			}
		}
	default:
		return false, fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
	}
	if l.kv == nil {
		kv, err := l.js.KeyValue(ctx, l.cfg.SessionBucket)
		if err != nil {
			return created, fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
		}
		l.kv = kv
	}
	return created, nil
}

// Stores tells which of the Log's stores exist and which it made again.
type Stores struct {
	// Stream and Bucket are when the stream and the session bucket were
	// created: a different time than before means a different store (one
	// recreated, by this node or another).
	Stream, Bucket time.Time
	// RecreatedStream and RecreatedBucket are set when this call made them.
	RecreatedStream, RecreatedBucket bool
}

// Ensure makes sure the stream and the session bucket exist, creating a
// missing one with the configured settings (an operator deleted it), and
// reports their identities. It changes nothing that exists.
func (l *Log) Ensure(ctx context.Context) (Stores, error) {
	var st Stores
	err := l.api(ctx, "stream_info", func() error {
		s, err := l.js.Stream(ctx, l.cfg.Stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if err := l.provisionStream(ctx, false); err != nil {
				return err
			}
			st.RecreatedStream = true
			s, err = l.js.Stream(ctx, l.cfg.Stream)
		}
		if err != nil {
			return fmt.Errorf("stream %s: %w", l.cfg.Stream, err)
		}
		st.Stream = s.CachedInfo().Created
		b, err := l.js.Stream(ctx, "KV_"+l.cfg.SessionBucket)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if st.RecreatedBucket, err = l.provisionBucket(ctx, false); err != nil {
				return err
			}
			b, err = l.js.Stream(ctx, "KV_"+l.cfg.SessionBucket)
		}
		if err != nil {
			return fmt.Errorf("bucket %s: %w", l.cfg.SessionBucket, err)
		}
		st.Bucket = b.CachedInfo().Created
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return st, nil
}
