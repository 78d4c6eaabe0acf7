package edge

import (
	"slices"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/kit/metrics/discard"
	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the edge's instruments. Every field is required; NewMetrics
// registers Prometheus ones, DiscardMetrics returns no-ops.
type Metrics struct {
	Connections      metrics.Gauge   // jetsse_connections
	SessionsCreated  metrics.Counter // jetsse_sessions_created_total
	SessionsResumed  metrics.Counter // jetsse_sessions_resumed_total
	SessionsExpired  metrics.Counter // jetsse_sessions_expired_total
	Takeovers        metrics.Counter // jetsse_takeovers_total
	Reauths          metrics.Counter // jetsse_reauths_total
	Gaps             metrics.Counter // jetsse_gaps_total
	EventsDelivered  metrics.Counter // jetsse_events_delivered_total
	EventsReplayed   metrics.Counter // jetsse_events_replayed_total{source}
	SlowDisconnects  metrics.Counter // jetsse_slow_client_disconnects_total
	WriteErrors      metrics.Counter // jetsse_write_errors_total
	DeliveryLag      metrics.Histogram
	Checkpoints      metrics.Counter // jetsse_checkpoints_total{result}
	EventsPublished  metrics.Counter // jetsse_events_published_total
	RequestDuration  metrics.Histogram
	RejectedRequests metrics.Counter // jetsse_rejected_requests_total{reason}
	LimitHits        metrics.Counter // jetsse_limit_hits_total{limit}

	JetStreamRequests metrics.Counter   // jetsse_jetstream_requests_total{op,result}
	JetStreamDuration metrics.Histogram // jetsse_jetstream_request_duration_seconds{op}

	CacheEvents metrics.Gauge // jetsse_cache_events
	CacheBytes  metrics.Gauge // jetsse_cache_bytes
	EventsRead  metrics.Counter

	ControlTypesDropped metrics.Counter // jetsse_control_types_dropped_total
	TopicSets           metrics.Gauge   // jetsse_topic_sets
	StoreRecreated      metrics.Counter // jetsse_store_recreated_total{store}

	SessionsStored  metrics.Gauge // jetsse_sessions_stored
	StreamMessages  metrics.Gauge
	StreamBytes     metrics.Gauge
	StreamFirstSeq  metrics.Gauge
	StreamLastSeq   metrics.Gauge
	StreamConsumers metrics.Gauge
	StreamMaxMsgs   metrics.Gauge
	StreamMaxBytes  metrics.Gauge
	StreamMaxAge    metrics.Gauge

	// The labelled JetStream metrics, made once per label values.
	jsRequests withCache[metrics.Counter]
	jsDuration withCache[metrics.Histogram]
}

// NewMetrics creates the jetsse_* metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) metrics.Counter {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "jetsse", Name: name, Help: help}, labels)
		reg.MustRegister(cv)
		if len(labels) == 0 {
			cv.WithLabelValues() // exported at 0 from the start
			return kitprometheus.NewCounter(cv)
		}
		return &promCounter{cv: cv, labels: len(labels)}
	}
	gauge := func(name, help string, labels ...string) *kitprometheus.Gauge {
		gv := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "jetsse", Name: name, Help: help}, labels)
		reg.MustRegister(gv)
		if len(labels) == 0 {
			gv.WithLabelValues()
		}
		return kitprometheus.NewGauge(gv)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) metrics.Histogram {
		hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "jetsse", Name: name, Help: help, Buckets: buckets}, labels)
		reg.MustRegister(hv)
		if len(labels) == 0 {
			hv.WithLabelValues()
			return kitprometheus.NewHistogram(hv)
		}
		return &promHistogram{hv: hv, labels: len(labels)}
	}
	lagBuckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	return &Metrics{
		Connections:      gauge("connections", "SSE connections open on this node."),
		SessionsCreated:  counter("sessions_created_total", "New sessions (no valid token, or its session had expired)."),
		SessionsResumed:  counter("sessions_resumed_total", "Connections that resumed an existing session."),
		SessionsExpired:  counter("sessions_expired_total", "Valid tokens presented for sessions that no longer existed (expired after --session-ttl)."),
		Takeovers:        counter("takeovers_total", "Connections ended because a newer connection attached to their session."),
		Reauths:          counter("reauths_total", "Connections ended because the token they were opened with expired (the client was told: event reauth)."),
		Gaps:             counter("gaps_total", "gap events sent: events after a client's position had left the stream (evicted by its limits, purged, or the stream was recreated)."),
		EventsDelivered:  counter("events_delivered_total", "Events written and flushed to clients (live and replayed)."),
		EventsReplayed:   counter("events_replayed_total", "Events delivered from history before a connection went live, by source (cache: this node's memory; jetstream: read from the stream).", "source"),
		SlowDisconnects:  counter("slow_client_disconnects_total", "Connections ended because the client fell behind its queue or missed the write deadline."),
		WriteErrors:      counter("write_errors_total", "Connections ended by a failed or timed-out write."),
		DeliveryLag:      histogram("delivery_lag_seconds", "Live delivery only: time from JetStream storing an event to it being written to a client (sampled; replayed history is not counted).", lagBuckets),
		Checkpoints:      counter("checkpoints_total", "Session positions recorded on their consumers, by result.", "result"),
		EventsPublished:  counter("events_published_total", "Events published through POST /publish."),
		RequestDuration:  histogram("request_duration_seconds", "Time to answer publish and subscribe requests (subscribe: until the stream starts), by method and outcome.", prometheus.DefBuckets, "method", "outcome"),
		RejectedRequests: counter("rejected_requests_total", "Requests refused, by reason.", "reason"),
		LimitHits: counter("limit_hits_total", "Requests refused by a limit, by limit: connections and new sessions per node and per client, "+
			"topics and topic bytes per subscription, header and body bytes, event bytes (see docs/protocol.md, Limits).", "limit"),
		JetStreamRequests: counter("jetstream_requests_total", "JetStream requests this node made (publishes, session record reads and writes, consumer and stream API requests), "+
			"by operation and result (ok, not_found, conflict, too_large, timeout, canceled, error).", "op", "result"),
		JetStreamDuration: histogram("jetstream_request_duration_seconds", "Time JetStream took to answer this node's requests, by operation.",
			[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}, "op"),
		CacheEvents: gauge("cache_events", "Recent events held in this node's replay cache."),
		CacheBytes:  gauge("cache_bytes", "Bytes of SSE frames held in this node's replay cache."),
		EventsRead:  counter("events_read_total", "Events this node read from the stream for its live path."),
		ControlTypesDropped: counter("control_types_dropped_total",
			"Events published over NATS with a type reserved for jetsse's control events (session, gap, takeover, …), delivered without the type."),
		TopicSets:       gauge("topic_sets", "Subscription topic sets in memory (connections asking for the same topics share one)."),
		StoreRecreated:  counter("store_recreated_total", "The stream or the session bucket was found deleted and made again by this node, by store.", "store"),
		SessionsStored:  gauge("sessions_stored", "Sessions that exist (attached or detached within --session-ttl): records in the jetsse_sessions bucket."),
		StreamMessages:  gauge("stream_messages", "Messages in the stream."),
		StreamBytes:     gauge("stream_bytes", "Bytes in the stream."),
		StreamFirstSeq:  gauge("stream_first_seq", "The stream's first sequence: events below it were evicted."),
		StreamLastSeq:   gauge("stream_last_seq", "The stream's last sequence: the newest event ID."),
		StreamConsumers: gauge("stream_consumers", "Consumers on the stream (stored sessions, plus one ordered consumer per edge node)."),
		StreamMaxMsgs:   gauge("stream_max_msgs", "Configured --max-msgs (-1: unbounded)."),
		StreamMaxBytes:  gauge("stream_max_bytes", "Configured --max-bytes (-1: unbounded)."),
		StreamMaxAge:    gauge("stream_max_age_seconds", "Configured --max-age in seconds (0: unbounded)."),
	}
}

// DiscardMetrics returns Metrics that record nothing.
func DiscardMetrics() *Metrics {
	c, g, h := discard.NewCounter(), discard.NewGauge(), discard.NewHistogram()
	return &Metrics{
		Connections: g, SessionsCreated: c, SessionsResumed: c, SessionsExpired: c, Takeovers: c, Reauths: c, Gaps: c,
		EventsDelivered: c, EventsReplayed: c, SlowDisconnects: c, WriteErrors: c, DeliveryLag: h,
		Checkpoints: c, EventsPublished: c, RequestDuration: h, RejectedRequests: c, LimitHits: c,
		JetStreamRequests: c, JetStreamDuration: h,
		CacheEvents: g, CacheBytes: g, EventsRead: c, ControlTypesDropped: c, TopicSets: g, StoreRecreated: c,
		SessionsStored: g, StreamMessages: g, StreamBytes: g, StreamFirstSeq: g, StreamLastSeq: g, StreamConsumers: g,
		StreamMaxMsgs: g, StreamMaxBytes: g, StreamMaxAge: g,
	}
}

// ObserveJetStream counts a JetStream request (eventlog.Config.Observe).
// It is on every publish's path: the labelled metrics are made once per
// label values (withCache).
func (m *Metrics) ObserveJetStream(op string, took time.Duration, result string) {
	m.jsRequests.get(op, result, func() metrics.Counter { return m.JetStreamRequests.With("op", op, "result", result) }).Add(1)
	m.jsDuration.get(op, "", func() metrics.Histogram { return m.JetStreamDuration.With("op", op) }).Observe(took.Seconds())
}

// withCache keeps the labelled metric made for each pair of label values,
// so a hot path makes it once (see promCounter). Safe for concurrent use.
type withCache[M any] struct{ m sync.Map } // [2]string → M

func (c *withCache[M]) get(a, b string, with func() M) M {
	if v, ok := c.m.Load([2]string{a, b}); ok {
		return v.(M)
	}
	v, _ := c.m.LoadOrStore([2]string{a, b}, with())
	return v.(M)
}

// promCounter is go-kit's Prometheus counter (kitprometheus.Counter),
// except that a With naming every label looks the Prometheus counter up
// there, once, rather than on every Add: a counter kept after With adds
// without building and hashing a label map.
type promCounter struct {
	cv     *prometheus.CounterVec
	labels int                // the vector's label count
	lvs    []string           // name, value, …
	c      prometheus.Counter // when lvs names every label
}

func (c *promCounter) With(lvs ...string) metrics.Counter {
	n := &promCounter{cv: c.cv, labels: c.labels, lvs: append(slices.Clip(c.lvs), lvs...)}
	if len(n.lvs) == 2*n.labels {
		n.c = c.cv.With(promLabels(n.lvs))
	}
	return n
}

func (c *promCounter) Add(delta float64) {
	if c.c != nil {
		c.c.Add(delta)
		return
	}
	c.cv.With(promLabels(c.lvs)).Add(delta)
}

// promHistogram is to kitprometheus.Histogram what promCounter is to its
// counter.
type promHistogram struct {
	hv     *prometheus.HistogramVec
	labels int
	lvs    []string
	o      prometheus.Observer
}

func (h *promHistogram) With(lvs ...string) metrics.Histogram {
	n := &promHistogram{hv: h.hv, labels: h.labels, lvs: append(slices.Clip(h.lvs), lvs...)}
	if len(n.lvs) == 2*n.labels {
		n.o = h.hv.With(promLabels(n.lvs))
	}
	return n
}

func (h *promHistogram) Observe(value float64) {
	if h.o != nil {
		h.o.Observe(value)
		return
	}
	h.hv.With(promLabels(h.lvs)).Observe(value)
}

// promLabels makes label pairs a Prometheus label map, as go-kit does (a
// name without a value gets "unknown").
func promLabels(lvs []string) prometheus.Labels {
	labels := prometheus.Labels{}
	for i := 0; i < len(lvs); i += 2 {
		v := "unknown"
		if i+1 < len(lvs) {
			v = lvs[i+1]
		}
		labels[lvs[i]] = v
	}
	return labels
}
