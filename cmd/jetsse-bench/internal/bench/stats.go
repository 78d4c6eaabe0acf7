package bench

import (
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets (64 per power of two,
// so a reported percentile is within 1.6% of the true value). It is sharded
// so that many goroutines can record at once; Record is safe for
// concurrent use and does not allocate.
type Histogram struct {
	shards [histShards]histShard
	max    atomic.Int64
	min    atomic.Int64
}

const (
	histShards  = 16
	histSub     = 64 // buckets per power of two
	histSubBits = 6
	histBuckets = (64 - histSubBits + 1) * histSub
)

type histShard struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Int64
	n      atomic.Uint64
	_      [64]byte // keep shards on separate cache lines
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.min.Store(math.MaxInt64)
	return h
}

func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	return (e+1)*histSub + int(v>>e) - histSub
}

// bucketLow is the smallest value of bucket i.
func bucketLow(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	return uint64(i%histSub+histSub) << e
}

// Record adds one duration; hint spreads writers over shards (a subscriber's
// index). Negative durations (clock steps) count as zero.
func (h *Histogram) Record(hint int, d time.Duration) {
	if d < 0 {
		d = 0
	}
	s := &h.shards[uint(hint)%histShards]
	s.counts[bucketOf(uint64(d))].Add(1)
	s.sum.Add(int64(d))
	s.n.Add(1)
	for m := h.max.Load(); int64(d) > m && !h.max.CompareAndSwap(m, int64(d)); m = h.max.Load() {
	}
	for m := h.min.Load(); int64(d) < m && !h.min.CompareAndSwap(m, int64(d)); m = h.min.Load() {
	}
}

// Latency is a summary of a Histogram in milliseconds.
type Latency struct {
	Count  uint64  `json:"count"`
	MinMs  float64 `json:"min_ms"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary returns the histogram's percentiles. Call it once recording has
// stopped.
func (h *Histogram) Summary() Latency {
	var counts [histBuckets]uint64
	var n uint64
	var sum int64
	for i := range h.shards {
		s := &h.shards[i]
		for b := range counts {
			counts[b] += s.counts[b].Load()
		}
		n += s.n.Load()
		sum += s.sum.Load()
	}
	if n == 0 {
		return Latency{}
	}
	q := func(p float64) float64 {
		rank := uint64(math.Ceil(p * float64(n)))
		if rank == 0 {
			rank = 1
		}
		var c uint64
		for b, k := range counts {
			c += k
			if c >= rank {
				// Report the bucket's midpoint, but never above the max.
				lo, hi := bucketLow(b), bucketLow(b+1)
				v := float64(lo+hi) / 2
				return min(v, float64(h.max.Load()))
			}
		}
		return float64(h.max.Load())
	}
	return Latency{
		Count:  n,
		MinMs:  ms(float64(h.min.Load())),
		MeanMs: ms(float64(sum) / float64(n)),
		P50Ms:  ms(q(0.50)),
		P90Ms:  ms(q(0.90)),
		P99Ms:  ms(q(0.99)),
		P999Ms: ms(q(0.999)),
		MaxMs:  ms(float64(h.max.Load())),
	}
}

func ms(nanos float64) float64 { return round3(nanos / 1e6) }

// round3 rounds to three decimals, for readable JSON.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// Spread summarises a few samples (seconds or milliseconds, as named by the
// field that holds it).
type Spread struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}

// SpreadOf summarises samples (it sorts a copy).
func SpreadOf(samples []float64) Spread {
	if len(samples) == 0 {
		return Spread{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return round3(s[max(i, 0)])
	}
	return Spread{N: len(s), Min: round3(s[0]), Median: at(0.5), P90: at(0.9), P99: at(0.99), Max: round3(s[len(s)-1])}
}
