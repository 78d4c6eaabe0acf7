package eventlog

import (
	"context"
	"sync"
	"time"
)

// coalescer shares one request among concurrent callers that all need an
// answer given after they asked: a caller that arrives while a request is
// in flight waits for the next request, which serves every caller that
// arrived in the meantime. So however many callers ask at once, at most two
// requests are in flight, and no caller gets an answer older than its
// question. The zero value is ready once fn is set.
type coalescer[T any] struct {
	fn func(context.Context) (T, error)

	mu      sync.Mutex
	running bool              // a request is in flight
	waiting []chan outcome[T] // callers for the next request
}

type outcome[T any] struct {
	v   T
	err error
	run bool // no request is in flight: the receiver makes the next one
}

// requestTimeout bounds one shared request: it runs on behalf of several
// callers, so no single caller's context may cut it short.
const requestTimeout = 5 * time.Second

// do returns the answer of a request made after it was called, or its
// context's error as soon as ctx ends: a caller whose context ends leaves,
// even one whose turn it was to make the request (the request goes on for
// the others, see start).
func (c *coalescer[T]) do(ctx context.Context) (T, error) {
	ch := make(chan outcome[T], 1)
	c.mu.Lock()
	c.waiting = append(c.waiting, ch)
	lead := !c.running
	if lead {
		c.running = true
	}
	c.mu.Unlock()
	if lead {
		c.start(ctx)
	}
	for {
		select {
		case o := <-ch:
			if !o.run {
				return o.v, o.err
			}
			c.start(ctx)
		case <-ctx.Done():
			var zero T
			// Leave the queue; if this caller was handed the next run,
			// pass it on so the others are not stranded.
			c.mu.Lock()
			for i, w := range c.waiting {
				if w == ch {
					c.waiting = append(c.waiting[:i], c.waiting[i+1:]...)
					break
				}
			}
			c.mu.Unlock()
			select {
			case o := <-ch:
				if o.run {
					c.handOff()
				} else {
					return o.v, o.err
				}
			default:
			}
			return zero, ctx.Err()
		}
	}
}

// start makes one request for everyone waiting now, the caller included,
// then hands the next request to one of those who came meanwhile (or
// marks none in flight). The request runs on its own goroutine, so the
// caller can leave when its context ends; it lasts at most requestTimeout
// (fn honours its context), and its answers go to buffered channels,
// received or not.
func (c *coalescer[T]) start(ctx context.Context) {
	c.mu.Lock()
	batch := c.waiting
	c.waiting = nil
	c.mu.Unlock()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	go func() {
		defer cancel()
		v, err := c.fn(rctx)
		for _, ch := range batch {
			ch <- outcome[T]{v: v, err: err}
		}
		c.handOff()
	}()
}

func (c *coalescer[T]) handOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiting) == 0 {
		c.running = false
		return
	}
	// The first of the next batch makes the request; it stays in the
	// queue and gets its answer from its own run.
	c.waiting[0] <- outcome[T]{run: true}
}
