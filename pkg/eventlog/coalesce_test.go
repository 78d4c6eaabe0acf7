package eventlog

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// stuck bounds how long a test waits for a caller that should have
// returned already: reaching it is the failure.
const stuck = 3 * time.Second

// TestCoalescerCallerLeavesAtItsDeadline: a caller whose context ends
// returns at once, even while the request it made is in flight (NATS
// unreachable: the request waits up to requestTimeout); the request goes on,
// and a caller that came meanwhile gets the answer of a request made after
// it asked.
func TestCoalescerCallerLeavesAtItsDeadline(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	var calls atomic.Int32
	c := coalescer[int32]{fn: func(ctx context.Context) (int32, error) {
		n := calls.Add(1)
		started <- struct{}{}
		select {
		case <-release:
			return n, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}}

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := c.do(ctx); first <- err }()
	<-started
	second := make(chan int32, 1)
	go func() {
		v, err := c.do(context.Background())
		if err != nil {
			t.Errorf("second caller: %v", err)
		}
		second <- v
	}()
	// The second caller is queued for the next request.
	waitUntil(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.waiting) == 1 })

	cancel()
	select {
	case err := <-first:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("first caller: %v, want context.Canceled", err)
		}
	case <-time.After(stuck):
		close(release)
		t.Fatal("the first caller waited for the request it made instead of leaving when its context ended")
	}

	close(release)
	select {
	case v := <-second:
		if v != 2 {
			t.Fatalf("second caller got the answer of request %d, want 2 (made after it asked)", v)
		}
	case <-time.After(stuck):
		t.Fatal("the second caller got no answer")
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	waitUntil(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return !c.running })
}

// TestCoalescerShares: callers that arrive while a request is in flight
// share the next one.
func TestCoalescerShares(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	c := coalescer[int32]{fn: func(ctx context.Context) (int32, error) {
		n := calls.Add(1)
		if n == 1 {
			<-release
		}
		return n, nil
	}}
	first := make(chan int32, 1)
	go func() { v, _ := c.do(context.Background()); first <- v }()
	waitUntil(t, func() bool { return calls.Load() == 1 })
	const n = 5
	rest := make(chan int32, n)
	for range n {
		go func() { v, _ := c.do(context.Background()); rest <- v }()
	}
	waitUntil(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.waiting) == n })
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("first caller got %d", v)
	}
	for range n {
		if v := <-rest; v != 2 {
			t.Fatalf("a caller that came during request 1 got %d, want 2", v)
		}
	}
	if got := calls.Load(); got != 2 {
		t.Fatalf("%d requests, want 2", got)
	}
}

// waitUntil polls cond, which has nothing to wait on, until it holds.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(stuck)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}
