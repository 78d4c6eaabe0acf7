package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Client is one subscriber session. Its connection and parser are owned by
// the goroutine Fleet.Start runs it in; counters are atomics that others
// may read at any time; the remaining fields are safe to read or set only
// while the client is not running (before Start or after Fleet.Wait).
type Client struct {
	fleet  *Fleet
	idx    int
	topic  string
	parser *Parser
	buf    []byte
	dec    chunkDecoder

	// Set before Start: what the next connection presents.
	LastEventID  []byte   // sent as Last-Event-ID when PresentID and non-empty
	PresentID    bool     // send Last-Event-ID
	Token        string   // updated from every 200 response
	PresentToken TokenVia // how to send Token when non-empty

	window seqWindow // the sequences at and below LastSeq received

	// captured holds the last value of each data key the resume URL
	// uses (nil until seen).
	captured [][]byte

	// Learned from the last session event.
	SessionID string
	Resumed   bool

	// Counters.
	Recv     atomic.Uint64 // new events (sequence above the last)
	Dup      atomic.Uint64 // events at or below the last sequence
	LastSeq  atomic.Uint64
	LastRecv atomic.Int64 // unix nanos of the last new event

	// Phase timing (unix nanos), cleared by ResetPhase.
	RequestAt atomic.Int64 // the first connection attempt of the current Run
	FirstAt   atomic.Int64 // the first event after RequestAt
	CaughtAt  atomic.Int64 // the first time LastSeq reached Target
	target    atomic.Uint64
	gotSess   bool // a session event arrived in this Run
	presented bool // the current connection presented a token
}

// Attached reports whether the client's last Run received a session
// event. Call it while the client is not running.
func (c *Client) Attached() bool { return c.gotSess }

// ResetPhase clears the phase timing and target. Call it while the client
// is not running.
func (c *Client) ResetPhase() {
	c.RequestAt.Store(0)
	c.FirstAt.Store(0)
	c.CaughtAt.Store(0)
	c.target.Store(0)
}

// SetTarget sets the sequence at which the client counts as caught up
// (CaughtAt, Fleet.Caught). It is safe to call while the client runs; if
// the client is already there it is caught up at its last receive time.
func (c *Client) SetTarget(seq uint64) {
	c.target.Store(seq)
	if seq != 0 && c.LastSeq.Load() >= seq {
		c.markCaught(c.LastRecv.Load())
	}
}

func (c *Client) markCaught(at int64) {
	if c.CaughtAt.CompareAndSwap(0, at) {
		c.fleet.Caught.Add(1)
		c.fleet.poke()
	}
}

// run connects, reads until the connection ends, and reconnects if asked.
func (c *Client) run(ctx context.Context) {
	f := c.fleet
	c.gotSess = false
	failures := 0
	for {
		err := c.connection(ctx)
		if ctx.Err() != nil {
			return
		}
		var he *HTTPError
		switch {
		case errors.As(err, &he):
			f.HTTPErrors.Add(1)
			failures++
		case errors.Is(err, errConnect):
			f.ConnErrors.Add(1)
			failures++
		default: // the stream ended
			failures = 0
		}
		if err != nil {
			f.noteErr(err)
		}
		if !f.cfg.Reconnect || failures > f.cfg.MaxRetries {
			return
		}
		delay := f.cfg.RetryDelay
		if r := c.parser.Retry; r >= 0 {
			delay = time.Duration(r) * time.Millisecond
		}
		f.Reconnects.Add(1)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// errConnect marks failures before a response arrived.
var errConnect = errors.New("connect")

// HTTPError is a non-200 response to a subscribe request.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}
