package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// FanoutParams configure a fanout run.
type FanoutParams struct {
	N    int     `json:"n"`    // subscribers on one topic
	K    int     `json:"k"`    // events published
	Rate float64 `json:"rate"` // events/s; 0 = as fast as acknowledged
	Size int     `json:"size"` // payload bytes (at least the timestamp)
}

// FanoutResult is one fanout run.
type FanoutResult struct {
	Header
	Params FanoutParams `json:"params"`
	Topic  string       `json:"topic"`

	Subscribers   int64   `json:"subscribers"` // attached when publishing started
	ConnectS      float64 `json:"connect_s"`   // to attach them all
	Sent          uint64  `json:"sent"`
	Acked         uint64  `json:"acked"`
	PublishFailed uint64  `json:"publish_failed"`
	Expected      uint64  `json:"expected"`  // acked × subscribers
	Delivered     uint64  `json:"delivered"` // new events over all subscribers
	Lost          uint64  `json:"lost"`
	Dup           uint64  `json:"dup"`
	Reconnects    int64   `json:"reconnects"`
	Gaps          int64   `json:"gaps"`
	ConnErrors    int64   `json:"connect_errors"`
	HTTPErrors    int64   `json:"http_errors"`

	PublishS       float64 `json:"publish_s"` // first send → last ack
	DeliverS       float64 `json:"deliver_s"` // first send → last delivery
	PublishRate    float64 `json:"publish_rate"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	// Latency is send → receive: from the publisher's send time carried
	// in the payload, so it includes the server's storing of the event
	// (jetsse: the JetStream write and, by default, its fsync).
	Latency Latency `json:"latency"`
	// AckLatency is acknowledgement → receive: from the moment the
	// publisher got the server's acknowledgement (a PubAck, or the HTTP
	// publish response). Deliveries that arrived before their
	// acknowledgement count as 0 and in ReceivedBeforeAck.
	AckLatency        Latency `json:"ack_latency"`
	ReceivedBeforeAck int64   `json:"received_before_ack"`

	// Server CPU over the publish-and-deliver window, when --pid is given.
	ServerCPUS       *float64 `json:"server_cpu_s"`
	CPUUsPerDelivery *float64 `json:"server_cpu_us_per_delivery"`
	ServerRSSKiB     *uint64  `json:"server_rss_kib"`
	// ToolCPUS is this tool's own CPU over the same window, to tell
	// whether the tool itself was the bottleneck; null where it cannot be
	// read (no Linux /proc).
	ToolCPUS *float64 `json:"tool_cpu_s"`
}

// Fanout attaches p.N subscribers to a fresh topic, publishes p.K events
// and waits until every subscriber has every acknowledged event (or
// deliveries stall for env.Drain, or env.Timeout passes).
func Fanout(ctx context.Context, env *Env, p FanoutParams) (*FanoutResult, error) {
	if p.N <= 0 || p.K <= 0 {
		return nil, errors.New("fanout needs n > 0 and k > 0")
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	res := &FanoutResult{Header: env.header("fanout"), Params: p, Topic: RunTopic("fanout")}

	ledger := &Ledger{}
	ledger.TrackAckTimes(p.K)
	fleet, err := NewFleet(FleetConfig{SSE: env.SSE, Latency: true, Acks: ledger, Reconnect: true, MaxRetries: 3})
	if err != nil {
		return nil, err
	}
	pub, err := env.NewPublisher(ledger)
	if err != nil {
		return nil, err
	}
	defer pub.Close()

	subCtx, stopSubs := context.WithCancel(ctx)
	defer func() { stopSubs(); fleet.Wait() }()
	clients := make([]*Client, p.N)
	for i := range clients {
		c := fleet.NewClient(i, res.Topic)
		c.PresentID, c.PresentToken = true, TokenHeader
		clients[i] = c
		fleet.Start(subCtx, c)
	}
	stopProgress := env.startProgress(func() string {
		recv, dup := sumRecv(clients)
		return fmt.Sprintf("fanout N=%d rate=%s attached=%d sent=%d acked=%d recv=%d/%d dup=%d reconnects=%d errors=%d",
			p.N, fmtRate(p.Rate), fleet.Ready.Load(), ledger.Sent.Load(), ledger.Acked.Load(),
			recv, ledger.Acked.Load()*uint64(fleet.Ready.Load()), dup, fleet.Reconnects.Load(),
			fleet.ConnErrors.Load()+fleet.HTTPErrors.Load())
	})
	defer stopProgress()

	if err := fleet.WaitFor(ctx, 100*time.Millisecond, func() bool {
		return fleet.Ready.Load()+fleet.Failed.Load() >= int64(p.N)
	}); err != nil {
		return nil, fmt.Errorf("attaching %d subscribers (%d attached): %w", p.N, fleet.Ready.Load(), err)
	}
	res.ConnectS = secs(time.Since(res.Started))
	res.Subscribers = fleet.Ready.Load()
	if res.Subscribers == 0 {
		return nil, fmt.Errorf("no subscriber attached: %v", fleet.Errors())
	}

	self := Procs{PIDs: []int{os.Getpid()}}
	cpu0, err := cpuNow(env.Procs)
	if err != nil {
		return nil, err
	}
	tool0, toolErr := self.CPUSeconds()
	start := time.Now()
	complete := true
	driveErr := Drive(ctx, pub, ledger, PublishPlan{
		Topic: func(uint64) string { return res.Topic },
		Count: uint64(p.K), Rate: p.Rate, Size: p.Size,
	})
	if err := pub.Flush(ctx); err != nil || driveErr != nil {
		complete = false
	}
	published := time.Since(start)

	// Every subscriber must now reach the last acknowledged sequence.
	if !waitDelivered(ctx, env, fleet, ledger, clients, res.Subscribers) {
		complete = false
	}
	cpu1, err := cpuNow(env.Procs)
	if err != nil {
		return nil, err
	}
	if tool1, err := self.CPUSeconds(); err == nil && toolErr == nil {
		res.ToolCPUS = ptr(round3(tool1 - tool0))
	}
	if env.Procs.Enabled() {
		rss, err := env.Procs.RSSKiB()
		if err != nil {
			return nil, err
		}
		res.ServerRSSKiB = &rss
	}
	stopSubs()
	fleet.Wait()
	stopProgress()

	res.tally(env, fleet, ledger, clients, start, published, cpu1-cpu0)
	res.finish(complete)
	return res, nil
}

// waitDelivered sets every subscriber's target to the last acknowledged
// sequence and waits until all of them (subscribers attached) reach it, or
// deliveries stall; it reports whether they all did. Nothing acknowledged
// is nothing to wait for, and incomplete.
func waitDelivered(ctx context.Context, env *Env, fleet *Fleet, ledger *Ledger, clients []*Client, subscribers int64) bool {
	goal := ledger.MaxSeq(env.SSE.Seq)
	for _, c := range clients {
		c.SetTarget(goal)
	}
	if goal == 0 {
		return false
	}
	watch := newProgressWatch(env.drain())
	stalled := false
	err := fleet.WaitFor(ctx, 20*time.Millisecond, func() bool {
		recv, _ := sumRecv(clients)
		// With publisher counters the highest one may arrive before
		// others published concurrently: wait for the count too.
		if fleet.Caught.Load() >= subscribers &&
			(env.SSE.Seq != SeqData || recv >= ledger.Acked.Load()*uint64(subscribers)) {
			return true
		}
		stalled = watch.stalled(recv)
		return stalled
	})
	return err == nil && !stalled
}

// tally fills the result's counts, rates, latencies and errors once every
// subscriber has ended. Publishing started at start and took published;
// cpu is the server's CPU seconds over the publish-and-deliver window.
func (res *FanoutResult) tally(env *Env, fleet *Fleet, ledger *Ledger, clients []*Client, start time.Time, published time.Duration, cpu float64) {
	res.Sent, res.Acked, res.PublishFailed = ledger.Sent.Load(), ledger.Acked.Load(), ledger.Failed.Load()
	res.Expected = res.Acked * uint64(res.Subscribers)
	var last int64
	for _, c := range clients {
		recv := c.Recv.Load()
		res.Delivered += recv
		res.Dup += c.Dup.Load()
		if c.Attached() && recv < res.Acked {
			res.Lost += res.Acked - recv
		}
		last = max(last, c.LastRecv.Load())
	}
	res.Reconnects, res.Gaps = fleet.Reconnects.Load(), fleet.Gaps.Load()
	res.ConnErrors, res.HTTPErrors = fleet.ConnErrors.Load(), fleet.HTTPErrors.Load()
	res.PublishS = secs(published)
	if published > 0 {
		res.PublishRate = round3(float64(res.Acked) / published.Seconds())
	}
	if last > start.UnixNano() {
		d := time.Duration(last - start.UnixNano())
		res.DeliverS = secs(d)
		res.DeliveriesPerS = round3(float64(res.Delivered) / d.Seconds())
	}
	res.Latency = fleet.Hist.Summary()
	res.AckLatency, res.ReceivedBeforeAck = fleet.AckHist.Summary(), fleet.BeforeAck.Load()
	if env.Procs.Enabled() {
		res.ServerCPUS = ptr(round3(cpu))
		if res.Delivered > 0 {
			res.CPUUsPerDelivery = ptr(round3((cpu) * 1e6 / float64(res.Delivered)))
		}
	}
	res.addErrors(fleet.Errors())
	res.addErrors(ledger.Errors())
}
