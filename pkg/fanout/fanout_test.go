package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetsse/jetsse/internal/testenv"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/sse"
	"github.com/jetsse/jetsse/pkg/topic"
)

type rig struct {
	js  jetstream.JetStream
	hub *fanout.Hub
}

// trust reads the stream with STREAM.INFO, as the edge does before it
// subscribes on its slow path, and lets the hub observe it.
func (r *rig) trust(t *testing.T) fanout.Trust {
	t.Helper()
	epoch := r.hub.Epoch()
	v := r.view(t)
	r.hub.Observe(v, epoch)
	return v.Trust()
}

// view reads the stream as the edge does before it subscribes.
func (r *rig) view(t *testing.T) fanout.View {
	t.Helper()
	st, err := r.js.Stream(context.Background(), "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info := st.CachedInfo()
	return fanout.View{First: info.State.FirstSeq, Last: info.State.LastSeq, Contiguous: info.State.NumDeleted == 0, Created: info.Created}
}

// newRig starts a real JetStream stream "EVENTS" on "events.>" (through
// pkg/eventlog, as the edge does) with the given events already published,
// and a hub reading it.
func newRig(t *testing.T, cfg fanout.Config, pre int) *rig {
	t.Helper()
	_, nc := testenv.NATS(t)
	ctx := context.Background()
	log, err := eventlog.Open(ctx, nc, eventlog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	r := &rig{js: js}
	for i := range pre {
		r.publish(t, fmt.Sprintf("pre.%d", i%2))
	}
	r.hub = fanout.New(cfg)
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.hub.Run(hctx, log.LiveSource()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
	})
	<-r.hub.Ready()
	return r
}

func (r *rig) publish(t *testing.T, topic string) uint64 {
	t.Helper()
	ack, err := r.js.Publish(context.Background(), "events."+topic, []byte(topic))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func (r *rig) waitLast(t *testing.T, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.hub.Last() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("hub at %d, want %d", r.hub.Last(), seq)
		}
		time.Sleep(time.Millisecond) // polling interval
	}
}

func set(t *testing.T, topics ...string) *topic.Set {
	s, err := topic.NewSet(topics, topic.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seqs(evs []*fanout.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func take(t *testing.T, s *fanout.Sub, n int) []*fanout.Event {
	t.Helper()
	var got []*fanout.Event
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		got = s.Take(got)
		if len(got) >= n {
			break
		}
		select {
		case <-s.Notify():
		case <-s.Done():
			t.Fatalf("subscription ended: %v", s.Err())
		case <-deadline:
			t.Fatalf("got %v, want %d events", seqs(got), n)
		}
	}
	return got
}

func TestWarmRingAndBacklog(t *testing.T) {
	r := newRig(t, fanout.Config{CacheEvents: 8}, 20)
	r.waitLast(t, 20)
	if got := r.hub.CoverStart(); got != 13 {
		t.Fatalf("cover start %d, want 13 (the last 8 of 20)", got)
	}
	// Not covered: nothing registered.
	for _, pos := range []uint64{5, 11} {
		if s, _, ok, err := r.hub.Subscribe(set(t, ">"), pos, fanout.SubConfig{}, r.trust(t)); ok || s != nil || err != nil {
			t.Fatalf("position %d should not be covered", pos)
		}
	}
	if s, backlog, ok, _ := r.hub.Subscribe(set(t, ">"), 12, fanout.SubConfig{}, r.trust(t)); !ok || len(backlog) != 8 {
		t.Fatalf("position 12: ok=%v, %d events from the ring", ok, len(backlog))
	} else {
		s.Close()
	}
	s, backlog, ok, err := r.hub.Subscribe(set(t, "pre.1"), 14, fanout.SubConfig{}, r.trust(t))
	if err != nil || !ok {
		t.Fatalf("subscribe at 14: ok=%v err=%v", ok, err)
	}
	defer s.Close()
	// pre.1 is every even sequence (i odd → seq i+1 even).
	if want := []uint64{16, 18, 20}; fmt.Sprint(seqs(backlog)) != fmt.Sprint(want) {
		t.Fatalf("backlog %v, want %v", seqs(backlog), want)
	}
	seq := r.publish(t, "pre.1")
	r.publish(t, "other")
	seq2 := r.publish(t, "pre.1")
	got := take(t, s, 2)
	if seqs(got)[0] != seq || seqs(got)[1] != seq2 {
		t.Fatalf("live %v, want [%d %d]", seqs(got), seq, seq2)
	}
	if string(got[0].Frame) != string(sse.AppendEventWithSeq(nil, seq, "", []byte("pre.1"))) {
		t.Fatalf("frame %q", got[0].Frame)
	}
}

func TestOverlappingTopicsDeliverOnce(t *testing.T) {
	r := newRig(t, fanout.Config{}, 0)
	s, _, ok, _ := r.hub.Subscribe(set(t, "a.*", "*.b"), 0, fanout.SubConfig{}, r.trust(t))
	if !ok {
		t.Fatal("not subscribed")
	}
	defer s.Close()
	r.publish(t, "a.b")
	r.publish(t, "a.c")
	r.publish(t, "x.b")
	if got := seqs(take(t, s, 3)); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("got %v", got)
	}
}

func TestSlowSubscriberOverflows(t *testing.T) {
	r := newRig(t, fanout.Config{}, 0)
	slow, _, _, _ := r.hub.Subscribe(set(t, "t"), 0, fanout.SubConfig{MaxEvents: 5}, r.trust(t))
	fast, _, _, _ := r.hub.Subscribe(set(t, "t"), 0, fanout.SubConfig{MaxEvents: 100}, r.trust(t))
	defer slow.Close()
	defer fast.Close()
	for range 10 {
		r.publish(t, "t")
	}
	if got := take(t, fast, 10); len(got) != 10 {
		t.Fatalf("fast got %d", len(got))
	}
	select {
	case <-slow.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("slow subscriber not ended")
	}
	if !errors.Is(slow.Err(), fanout.ErrOverflow) {
		t.Fatalf("slow err %v", slow.Err())
	}
	if evs, err := slow.Poll(nil); len(evs) != 0 || !errors.Is(err, fanout.ErrOverflow) {
		t.Fatalf("Poll of the slow subscriber: %d events, %v", len(evs), err)
	}
	r.publish(t, "t")
	if got := take(t, fast, 1); len(got) != 1 {
		t.Fatalf("fast got %d", len(got))
	}
	if evs, err := fast.Poll(nil); len(evs) != 0 || err != nil {
		t.Fatalf("Poll of the drained fast subscriber: %d events, %v", len(evs), err)
	}
	if n := r.hub.Subscribers(); n != 2 {
		t.Fatalf("%d subscribers before Close", n)
	}
	slow.Close()
	slow.Close()
	if n := r.hub.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers after Close", n)
	}
}

// TestNotifiedWhenQueueStopsBeingEmpty: the notifier is told when a
// subscriber's queue stops being empty, not for every event queued behind
// the first; once the reader took everything, the next event tells again.
// The end of the subscription always tells.
func TestNotifiedWhenQueueStopsBeingEmpty(t *testing.T) {
	hub := fanout.New(fanout.Config{})
	s, _, ok, err := hub.Subscribe(set(t, "t"), 0, fanout.SubConfig{MaxEvents: 4}, fanout.Trust{})
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	called := make(chan struct{}, 8)
	s.SetNotify(chanNotifier(called))
	ch := s.Notify()
	told := func() (n int) {
		for {
			select {
			case <-called:
				n++
			default:
				return n
			}
		}
	}
	dispatch := func(seq uint64) { hub.Dispatch(fanout.NewEvent(seq, "t", "", []byte("x"), time.Now())) }

	dispatch(1)
	dispatch(2)
	dispatch(3)
	if n := told(); n != 1 {
		t.Fatalf("three events queued: told %d times, want 1", n)
	}
	select {
	case <-ch:
	default:
		t.Fatal("the Notify channel was not signalled")
	}
	if got := s.Take(nil); len(got) != 3 || got[0].Seq != 1 || got[2].Seq != 3 {
		t.Fatalf("took %v, want [1 2 3]", seqs(got))
	}
	dispatch(4)
	if n := told(); n != 1 {
		t.Fatalf("an event after the queue was emptied: told %d times, want 1", n)
	}
	for seq := range uint64(4) { // one more than the queue holds
		dispatch(5 + seq)
	}
	if n := told(); n != 1 {
		t.Fatalf("overflow: told %d times, want 1 (the end)", n)
	}
	if !errors.Is(s.Err(), fanout.ErrOverflow) {
		t.Fatalf("err %v, want ErrOverflow", s.Err())
	}
}

// TestChannelsAskedForLate: Notify and Done are made when first asked
// for; one asked for after events were queued, or after the subscription
// ended, tells at once.
func TestChannelsAskedForLate(t *testing.T) {
	r := newRig(t, fanout.Config{}, 0)
	s, _, _, _ := r.hub.Subscribe(set(t, "t"), 0, fanout.SubConfig{MaxEvents: 2}, r.trust(t))
	defer s.Close()
	called := make(chan struct{}, 8)
	s.SetNotify(chanNotifier(called))
	wait := func() {
		t.Helper()
		select {
		case <-called:
		case <-time.After(10 * time.Second):
			t.Fatal("the subscriber was not notified")
		}
	}
	r.publish(t, "t")
	wait()
	select {
	case <-s.Notify():
	default:
		t.Fatal("Notify asked for after an event was queued is not signalled")
	}
	if got := s.Take(nil); len(got) != 1 || got[0].Seq != 1 {
		t.Fatalf("took %v, want [1]", seqs(got))
	}
	for range 3 { // one more than the queue holds
		r.publish(t, "t")
	}
	wait() // the queue stopped being empty
	wait() // the subscription ended
	select {
	case <-s.Done():
	default:
		t.Fatal("Done asked for after the subscription ended is not closed")
	}
	if !errors.Is(s.Err(), fanout.ErrOverflow) {
		t.Fatalf("err %v, want ErrOverflow", s.Err())
	}
}

// TestRingBytesBound: the ring never holds more than its byte budget.
func TestRingBytesBound(t *testing.T) {
	r := newRig(t, fanout.Config{CacheEvents: 1000, CacheBytes: 1000}, 0)
	var last uint64
	for range 100 {
		last = r.publish(t, "t")
	}
	r.waitLast(t, last)
	start := r.hub.CoverStart()
	size := func(seq uint64) int { return len(sse.AppendEventWithSeq(nil, seq, "", []byte("t"))) }
	held := 0
	for seq := start; seq <= last; seq++ {
		held += size(seq)
	}
	if held > 1000 || held+size(start-1) <= 1000 {
		t.Fatalf("ring holds %d bytes (from %d to %d) with a 1000-byte budget", held, start, last)
	}
}

func TestStreamRecreatedEndsSubscribers(t *testing.T) {
	r := newRig(t, fanout.Config{}, 0)
	for range 5 {
		r.publish(t, "t")
	}
	r.waitLast(t, 5)
	s, _, _, _ := r.hub.Subscribe(set(t, "t"), 5, fanout.SubConfig{}, r.trust(t))
	defer s.Close()
	// A lower sequence than the hub's last means the stream went back.
	r.hub.Dispatch(fanout.NewEvent(2, "t", "", []byte("x"), time.Now()))
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber not ended")
	}
	if !errors.Is(s.Err(), fanout.ErrReset) {
		t.Fatalf("err %v", s.Err())
	}
	_ = strconv.Itoa
}

// TestRingServesOnlyWhatTheStreamHolds: events purged, evicted by a lowered
// limit, or deleted from the middle of the stream are never served from
// the ring, and leave it.
func TestRingServesOnlyWhatTheStreamHolds(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, fanout.Config{}, 20)
	r.waitLast(t, 20)
	st, err := r.js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}

	// A message deleted from the middle: the ring cannot tell which of its
	// events are gone, so it serves none and lets them go.
	if err := st.DeleteMsg(ctx, 15); err != nil {
		t.Fatal(err)
	}
	if s, _, ok, _ := r.hub.Subscribe(set(t, ">"), 10, fanout.SubConfig{}, r.trust(t)); ok || s != nil {
		t.Fatal("served from the ring across a deleted message")
	}
	if got, want := r.hub.CoverStart(), uint64(21); got != want {
		t.Fatalf("cover start %d after a deletion, want %d (ring emptied)", got, want)
	}
	// Live events refill it; once the hole is below the stream's first
	// sequence, the ring serves again.
	for range 3 {
		r.publish(t, "t")
	}
	r.waitLast(t, 23)
	if err := st.Purge(ctx, jetstream.WithPurgeSequence(21)); err != nil {
		t.Fatal(err)
	}
	v := r.view(t)
	if v.First != 21 || !v.Contiguous {
		t.Fatalf("view %+v after purging below 21", v)
	}
	r.hub.Observe(v, r.hub.Epoch())
	s, backlog, ok, err := r.hub.Subscribe(set(t, ">"), 20, fanout.SubConfig{}, v.Trust())
	if !ok || err != nil || fmt.Sprint(seqs(backlog)) != "[21 22 23]" {
		t.Fatalf("after the hole left: ok=%v err=%v backlog %v", ok, err, seqs(backlog))
	}
	s.Close()

	// A full purge: nothing before it is served, the ring empties.
	if err := st.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _, ok, _ := r.hub.Subscribe(set(t, ">"), 21, fanout.SubConfig{}, r.trust(t)); ok || s != nil {
		t.Fatal("served purged events from the ring")
	}
	if got := r.hub.CoverStart(); got != 24 {
		t.Fatalf("cover start %d after a purge, want 24", got)
	}
	// At the end, a subscriber waits for live events.
	s, backlog, ok, _ = r.hub.Subscribe(set(t, ">"), 23, fanout.SubConfig{}, r.trust(t))
	if !ok || len(backlog) != 0 {
		t.Fatalf("subscribe at the end: ok=%v backlog %v", ok, seqs(backlog))
	}
	defer s.Close()
	seq := r.publish(t, "t")
	if got := take(t, s, 1); got[0].Seq != seq {
		t.Fatalf("live %v, want %d", seqs(got), seq)
	}
}

// TestSkippedEventsQueueAGap: when the live read skips sequences (events
// left the stream before the hub read them), each subscriber is told by a
// gap marker before the next event; one already past the hole is not.
func TestSkippedEventsQueueAGap(t *testing.T) {
	r := newRig(t, fanout.Config{}, 0)
	for range 2 {
		r.publish(t, "t")
	}
	r.waitLast(t, 2)
	s, _, ok, _ := r.hub.Subscribe(set(t, "t"), 2, fanout.SubConfig{}, r.trust(t))
	ahead, _, ok2, _ := r.hub.Subscribe(set(t, "t"), 9, fanout.SubConfig{}, r.trust(t))
	if !ok || !ok2 {
		t.Fatal("not subscribed")
	}
	defer s.Close()
	defer ahead.Close()
	r.hub.Dispatch(fanout.NewEvent(6, "t", "", []byte("x"), time.Now()))
	got := take(t, s, 2)
	if g := got[0].Gap; g == nil || g.After != 2 || g.First != 6 || got[1].Seq != 6 {
		t.Fatalf("got %+v then %d, want a gap after 2 before 6, then 6", got[0].Gap, got[1].Seq)
	}
	if evs := ahead.Take(nil); len(evs) != 0 {
		t.Fatalf("a subscriber past the hole got %v", seqs(evs))
	}
	if got := r.hub.CoverStart(); got != 6 {
		t.Fatalf("cover start %d, want 6: the ring holds nothing from before the hole", got)
	}
}

// TestRecreatedStreamRestartsTheHub: a view of a stream made after the one
// the hub reads ends every subscriber with ErrReset, and the hub starts
// over on the new stream.
func TestRecreatedStreamRestartsTheHub(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, fanout.Config{}, 5)
	r.waitLast(t, 5)
	s, _, _, _ := r.hub.Subscribe(set(t, "t"), 5, fanout.SubConfig{}, r.trust(t))
	defer s.Close()
	old := r.view(t)
	if err := r.js.DeleteStream(ctx, "EVENTS"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}}); err != nil {
		t.Fatal(err)
	}
	r.hub.Observe(old, r.hub.Epoch()) // a stale view changes nothing
	select {
	case <-s.Done():
		t.Fatal("a view of the old stream ended a subscriber")
	default:
	}
	r.hub.Observe(r.view(t), r.hub.Epoch())
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber not ended on a new stream")
	}
	if !errors.Is(s.Err(), fanout.ErrReset) {
		t.Fatalf("err %v", s.Err())
	}
	var s2 *fanout.Sub
	deadline := time.Now().Add(10 * time.Second)
	for s2 == nil {
		if sub, _, ok, _ := r.hub.Subscribe(set(t, "t"), 0, fanout.SubConfig{}, r.trust(t)); ok {
			s2 = sub
		} else if time.Now().After(deadline) {
			t.Fatal("the hub did not start over on the new stream")
		} else {
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	defer s2.Close()
	seq := r.publish(t, "t")
	if got := take(t, s2, 1); seq != 1 || got[0].Seq != 1 {
		t.Fatalf("first event of the new stream: published %d, got %v", seq, seqs(got))
	}
}

func BenchmarkDispatch1000(b *testing.B) {
	benchDispatch(b, 1000)
}

func BenchmarkDispatch10000(b *testing.B) {
	benchDispatch(b, 10000)
}

// benchDispatch measures the live path's in-memory cost per event for n
// subscribers on one topic: subject matching and one queue append each
// (the sockets are not part of it). ns/op divided by n is the cost per
// delivery.
func benchDispatch(b *testing.B, n int) {
	hub := fanout.New(fanout.Config{CacheEvents: 1024})
	ts, _ := topic.NewSet([]string{"t"}, topic.Limits{})
	subs := make([]*fanout.Sub, n)
	for i := range subs {
		s, _, ok, err := hub.Subscribe(ts, 0, fanout.SubConfig{MaxEvents: 1 << 30, MaxBytes: 1 << 30}, fanout.Trust{})
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
		subs[i] = s
	}
	data := []byte(`{"order":42,"total":"9.99"}`)
	var buf []*fanout.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hub.Dispatch(fanout.NewEvent(uint64(i+1), "t", "order", data, time.Time{}))
		if i%64 == 63 {
			for _, s := range subs {
				buf = s.Take(buf[:0])
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
}

// TestTrustFromFirstEvent: a caller that verified only where the stream
// starts (a direct get, not STREAM.INFO) gets the ring's events only while
// the hub knows the stream has no hole in its middle: a Suspect withdraws
// that until a state read after it confirms it again.
func TestTrustFromFirstEvent(t *testing.T) {
	r := newRig(t, fanout.Config{}, 10)
	r.waitLast(t, 10)
	first := fanout.Trust{First: 1}
	served := func(tr fanout.Trust) bool {
		s, backlog, ok, _ := r.hub.Subscribe(set(t, ">"), 4, fanout.SubConfig{}, tr)
		if ok {
			s.Close()
			if fmt.Sprint(seqs(backlog)) != "[5 6 7 8 9 10]" {
				t.Fatalf("backlog %v", seqs(backlog))
			}
		}
		return ok
	}
	if !served(first) {
		t.Fatal("a stream known contiguous did not serve from the ring")
	}
	if served(fanout.Trust{First: 6}) {
		t.Fatal("served events below the stream's first")
	}
	epoch := r.hub.Epoch()
	v := r.view(t) // read before the signal below
	r.hub.Suspect()
	if served(first) {
		t.Fatal("served while a hole may have been made")
	}
	r.hub.Observe(v, epoch)
	if served(first) {
		t.Fatal("a state read before the signal restored the trust")
	}
	r.trust(t)
	if !served(first) {
		t.Fatal("a state read after the signal did not restore the trust")
	}
}

// BenchmarkSubscribeBacklog: a resume from the whole ring (the default
// cache), on a topic that is half of the stream: the backlog a
// connection starts with, before its first write. Each event has its own
// topic string, as the live path makes them, and the CPU caches are
// flushed before each subscription, as after 10,000 other deliveries.
func BenchmarkSubscribeBacklog(b *testing.B) {
	hub := fanout.New(fanout.Config{})
	data := []byte(`{"order":42,"total":"9.99"}`)
	for i := range 20000 {
		tp := "orders.other"
		if i%2 == 0 {
			tp = "orders.mine"
		}
		hub.Dispatch(fanout.NewEvent(uint64(i+1), string([]byte(tp)), "", data, time.Time{}))
	}
	ts, _ := topic.NewSet([]string{"orders.mine"}, topic.Limits{})
	flush := make([]byte, 64<<20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := 0; j < len(flush); j += 64 {
			flush[j]++
		}
		b.StartTimer()
		// The ring holds the last 16,384 events: 3,617 to 20,000.
		s, backlog, ok, err := hub.Subscribe(ts, 20000-16384, fanout.SubConfig{}, fanout.Trust{First: 1, Whole: true, Contiguous: true})
		if !ok || err != nil || len(backlog) != 8192 {
			b.Fatal(ok, err, len(backlog))
		}
		s.Close()
	}
}

// chanNotifier is a fanout.Notifier that sends on its channel (without
// blocking, as a Notifier must).
type chanNotifier chan struct{}

func (c chanNotifier) Notify() {
	select {
	case c <- struct{}{}:
	default:
	}
}

// batchNotifier records how it was told.
type batchNotifier struct {
	mu      *sync.Mutex
	batches *[]int // the size of each NotifyAll
	singles *int   // Notify calls
}

func (b batchNotifier) Notify() {
	b.mu.Lock()
	*b.singles++
	b.mu.Unlock()
}

func (b batchNotifier) NotifyAll(all []fanout.Notifier) {
	b.mu.Lock()
	*b.batches = append(*b.batches, len(all))
	b.mu.Unlock()
}

// TestBatchNotifier: the subscribers an event's dispatch wakes are told
// in one NotifyAll when their notifier takes batches; the end of a
// subscription is told on its own.
func TestBatchNotifier(t *testing.T) {
	hub := fanout.New(fanout.Config{})
	var (
		mu      sync.Mutex
		batches []int
		singles int
	)
	subs := make([]*fanout.Sub, 5)
	for i := range subs {
		s, _, ok, err := hub.Subscribe(set(t, "t"), 0, fanout.SubConfig{MaxEvents: 2}, fanout.Trust{})
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		s.SetNotify(batchNotifier{&mu, &batches, &singles})
		subs[i] = s
	}
	other, _, _, _ := hub.Subscribe(set(t, "u"), 0, fanout.SubConfig{}, fanout.Trust{})
	other.SetNotify(batchNotifier{&mu, &batches, &singles})
	hub.Dispatch(fanout.NewEvent(1, "t", "", []byte("x"), time.Now()))
	hub.Dispatch(fanout.NewEvent(2, "t", "", []byte("x"), time.Now())) // queues not empty: nobody told
	for _, s := range subs[:2] {
		if got := s.Take(nil); len(got) != 2 {
			t.Fatalf("took %v, want [1 2]", seqs(got))
		}
	}
	hub.Dispatch(fanout.NewEvent(3, "t", "", []byte("x"), time.Now())) // two emptied queues; three overflow
	if want := []int{5, 2}; !slices.Equal(batches, want) || singles != 3 {
		t.Fatalf("told in batches of %v and %d times alone; want %v and 3 (the overflows)", batches, singles, want)
	}
}
