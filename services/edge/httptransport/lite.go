package httptransport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jetsse/jetsse/internal/defaults"
	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/platform"
	"github.com/jetsse/jetsse/services/edge"
)

// Lite is the pooled writer: it serves the live phase of plain HTTP/1.x
// event streams without a goroutine per connection. Once a stream has
// caught up, its connection (hijacked from net/http) is handed over:
//
//   - a small pool of workers writes queued events with non-blocking
//     writes, so no worker ever waits on a client;
//   - a connection whose socket buffer is full gets a goroutine of its own
//     only until its backlog is written (or --write-timeout passes and it is
//     cut off as too slow);
//   - one goroutine watches every connection for hang-ups
//     (platform.Poller), and one ticker schedules heartbeats.
//
// An idle connection thus costs its socket and a few hundred bytes of
// state instead of two goroutines and net/http's buffers. It needs
// platform.NewPoller (Linux); elsewhere NewLite fails and every stream
// keeps its handler's goroutine. Run must be running while connections are
// added.
type Lite struct {
	heartbeat    time.Duration
	sentStep     int64 // see lastSentStep
	writeTimeout time.Duration
	retry        time.Duration
	workers      int
	logger       *slog.Logger
	poller       *platform.Poller

	mu     sync.Mutex
	conns  map[uint64]*liteConn
	nextID uint64
	closed bool

	qmu   sync.Mutex
	qcond *sync.Cond
	queue []*liteConn

	wg sync.WaitGroup
}

// LiteConfig configures Lite; zero fields take the defaults of
// internal/defaults (Workers: 2 × GOMAXPROCS).
type LiteConfig struct {
	Heartbeat    time.Duration
	WriteTimeout time.Duration
	Retry        time.Duration // base reconnect delay told on drain
	Workers      int
	Logger       *slog.Logger
}

// NewLite returns a Lite, or an error where the system has no poller.
func NewLite(cfg LiteConfig) (*Lite, error) {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = defaults.Heartbeat
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaults.WriteTimeout
	}
	if cfg.Retry <= 0 {
		cfg.Retry = defaults.Retry
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	poller, err := platform.NewPoller()
	if err != nil {
		return nil, err
	}
	l := &Lite{
		heartbeat: cfg.Heartbeat, sentStep: int64(cfg.Heartbeat / lastSentStep), writeTimeout: cfg.WriteTimeout, retry: cfg.Retry,
		workers: cfg.Workers, logger: cfg.Logger, poller: poller,
		conns: make(map[uint64]*liteConn),
	}
	l.qcond = sync.NewCond(&l.qmu)
	return l, nil
}

// Run serves until ctx ends, then closes the connections it still holds
// (after a drain there are none) and waits for its goroutines.
func (l *Lite) Run(ctx context.Context) error {
	for range l.workers {
		l.wg.Add(1)
		go l.worker()
	}
	l.wg.Add(2)
	go l.watch()
	go l.heartbeats(ctx)
	<-ctx.Done()

	l.mu.Lock()
	l.closed = true
	conns := make([]*liteConn, 0, len(l.conns))
	for _, c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.hangup()
	}
	l.poller.Wake() // ends watch
	l.qmu.Lock()
	l.qcond.Broadcast()
	l.qmu.Unlock()
	l.wg.Wait()
	return l.poller.Close()
}

type liteConn struct {
	// What every write touches comes first: these 48 bytes, not spread
	// over the struct's 112.
	mu           sync.Mutex
	heartbeatDue atomic.Bool
	busy         bool // a flusher goroutine owns the socket
	closed       bool
	// fd is the socket's descriptor, written to directly under mu while
	// not closed (every close takes mu, so it cannot name another file).
	fd       int32
	st       *edge.Stream
	l        *Lite
	lastSent atomic.Int64 // unix nanos of a write to the socket (see lastSentStep)

	id        uint64
	conn      net.Conn
	raw       syscall.RawConn
	pendingEv []*fanout.Event
}

// errLiteClosed: Lite stopped; the caller keeps the connection.
var errLiteClosed = errors.New("httptransport: the pooled writer stopped")

// add takes over a hijacked connection whose stream is Live. On error the
// caller still owns conn and st.
func (l *Lite) add(conn net.Conn, st *edge.Stream) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errors.New("httptransport: connection has no file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	fd, err := platform.FD(raw)
	if err != nil {
		return err
	}
	// Raw writes fail once a deadline has passed: Lite sets its own.
	if err := conn.SetWriteDeadline(time.Time{}); err != nil {
		return err
	}
	// From here on the hang-up watcher may close st.
	st.PollOnly()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errLiteClosed
	}
	l.nextID++
	c := &liteConn{l: l, id: l.nextID, conn: conn, raw: raw, st: st, fd: int32(fd)}
	c.lastSent.Store(time.Now().UnixNano())
	l.conns[c.id] = c
	l.mu.Unlock()

	if err := l.poller.Add(raw, c.id); err != nil {
		l.mu.Lock()
		delete(l.conns, c.id)
		l.mu.Unlock()
		return err
	}
	st.SetWake(c)
	c.Notify() // events may have been queued before the wake was set
	return nil
}

// Notify schedules c for the workers (c is its stream's fanout.Notifier).
// It writes nothing of c: the dispatcher calls it when c's queue stops
// being empty, and c's fields stay on the core of the worker writing to
// it. c may thus be queued twice (an event and a heartbeat, say); the
// second turn finds nothing to do.
func (c *liteConn) Notify() {
	l := c.l
	l.qmu.Lock()
	l.queue = append(l.queue, c)
	l.qmu.Unlock()
	l.qcond.Signal()
}

// NotifyAll schedules, for the dispatcher, every connection in all (the
// connections whose queues one event filled) with one turn of the queue's
// lock, and wakes as many workers as have a share of them (see worker).
// A notifier of another kind, or of another Lite, is told on its own.
func (c *liteConn) NotifyAll(all []fanout.Notifier) {
	l := c.l
	l.qmu.Lock()
	n := 0
	for _, f := range all {
		if o, ok := f.(*liteConn); ok && o.l == l {
			l.queue = append(l.queue, o)
			n++
		}
	}
	l.qmu.Unlock()
	for range min(l.workers, (n+minShare-1)/minShare) {
		l.qcond.Signal()
	}
	if n < len(all) {
		for _, f := range all {
			if o, ok := f.(*liteConn); !ok || o.l != l {
				f.Notify()
			}
		}
	}
}

func (l *Lite) worker() {
	defer l.wg.Done()
	var (
		batch []*fanout.Event
		buf   []byte
		work  []*liteConn
	)
	for {
		l.qmu.Lock()
		for len(l.queue) == 0 {
			l.mu.Lock()
			closed := l.closed
			l.mu.Unlock()
			if closed {
				l.qmu.Unlock()
				return
			}
			l.qcond.Wait()
		}
		// Take a share of the queue, so workers do not contend per item.
		n := min(len(l.queue), max(minShare, len(l.queue)/l.workers))
		work = append(work[:0], l.queue[:n]...)
		l.queue = append(l.queue[:0], l.queue[n:]...)
		l.qmu.Unlock()
		var now int64
		for i, c := range work {
			if i%clockEvery == 0 {
				now = time.Now().UnixNano()
			}
			batch, buf = c.process(batch[:0], buf[:0], now)
		}
		clear(work)
		clear(batch)
	}
}

// minShare is the fewest queued connections a worker takes at a time
// (fewer only when fewer are queued); NotifyAll wakes one worker per share.
const minShare = 16

// clockEvery is how many connections a worker processes on one reading of
// the clock. A write is then stamped at most that many writes early (well
// under a millisecond), which neither the heartbeat interval nor the
// refresh grace of the session's position notices; a reading per write
// was 3% of the server's CPU at 10 events/s to 1,000 subscribers.
const clockEvery = 16

// lastSentStep: a connection's time of last write is only moved on when
// it is a heartbeat/lastSentStep old, not on every write (a store for each
// write, to a line the heartbeat ticker reads, shows in the 10 events/s
// profile). A heartbeat may thus follow the last event a sixteenth of the
// interval early, never late.
const lastSentStep = 16

// process writes what the stream has queued, without blocking; now is when
// (about: see clockEvery) it writes.
func (c *liteConn) process(batch []*fanout.Event, buf []byte, now int64) ([]*fanout.Event, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.busy {
		return batch, buf
	}
	batch, err := c.st.Poll(batch)
	switch {
	case err != nil:
		buf = appendEnd(buf, err, c.st.Session.ID, c.l.retry)
	case len(batch) > 0:
		buf = appendEvents(buf, batch)
		if c.heartbeatDue.Load() { // a load is cheaper than a store
			c.heartbeatDue.Store(false)
		}
	case c.heartbeatDue.Swap(false):
		buf = appendHeartbeat(buf)
	default:
		return batch, buf
	}
	end := err != nil
	if len(buf) > 0 {
		n, werr := platform.WriteFD(int(c.fd), buf)
		if werr != nil {
			c.st.WriteFailed(werr)
			c.closeLocked()
			return batch, buf
		}
		if n < len(buf) {
			// The socket is full: a goroutine finishes this write.
			c.st.Wrote(n, nil, 0)
			c.busy = true
			c.pendingEv = append(c.pendingEv[:0], batch...)
			pending := append([]byte(nil), buf[n:]...)
			c.l.wg.Add(1)
			go c.flush(pending, end)
			return batch, buf
		}
		if now-c.lastSent.Load() >= c.l.sentStep {
			c.lastSent.Store(now)
		}
		c.st.Wrote(n, batch, now)
	}
	if end {
		c.closeLocked()
	}
	return batch, buf
}

// flush writes a backlog that did not fit the socket, waiting up to the
// write timeout, then lets the workers take over again.
func (c *liteConn) flush(pending []byte, end bool) {
	defer c.l.wg.Done()
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.l.writeTimeout))
	_, err := c.conn.Write(pending)
	if err == nil {
		err = c.conn.SetWriteDeadline(time.Time{})
	}
	c.mu.Lock()
	c.busy = false
	if c.closed {
		c.mu.Unlock()
		return
	}
	if err != nil {
		c.st.WriteFailed(err)
		c.closeLocked()
		c.mu.Unlock()
		return
	}
	now := time.Now().UnixNano()
	c.lastSent.Store(now)
	c.st.Wrote(len(pending), c.pendingEv, now)
	clear(c.pendingEv)
	c.pendingEv = c.pendingEv[:0]
	if end {
		c.closeLocked()
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.Notify() // events may have queued meanwhile
}

func (c *liteConn) hangup() {
	c.mu.Lock()
	c.closeLocked()
	c.mu.Unlock()
}

func (c *liteConn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.l.poller.Remove(c.raw)
	c.st.FreezeAcks()
	_ = c.conn.Close()
	c.l.mu.Lock()
	delete(c.l.conns, c.id)
	c.l.mu.Unlock()
	c.st.Close()
}

// watch closes connections whose peer hung up, or sent anything (an SSE
// client has nothing to say), until Run stops.
func (l *Lite) watch() {
	defer l.wg.Done()
	var ready []platform.Ready
	for {
		var err error
		ready, err = l.poller.Wait(ready[:0])
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if closed {
			return
		}
		if err != nil {
			l.logger.Error("waiting for hang-ups", "err", err)
			return
		}
		for _, r := range ready {
			l.mu.Lock()
			c := l.conns[r.ID]
			l.mu.Unlock()
			if c != nil && (r.HungUp || platform.Discard(c.raw)) {
				c.hangup()
			}
		}
	}
}

// heartbeats schedules a comment on connections idle for a heartbeat.
func (l *Lite) heartbeats(ctx context.Context) {
	defer l.wg.Done()
	tick := min(l.heartbeat/4, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	var due []*liteConn
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		l.mu.Lock()
		for _, c := range l.conns {
			if now-c.lastSent.Load() >= int64(l.heartbeat) && !c.heartbeatDue.Load() {
				due = append(due, c)
			}
		}
		l.mu.Unlock()
		for _, c := range due {
			c.heartbeatDue.Store(true)
			c.Notify()
		}
		clear(due)
		due = due[:0]
	}
}
