//go:build linux

package edge

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

	"golang.org/x/sys/unix"

	"github.com/jetsse/jetsse/pkg/fanout"
	"github.com/jetsse/jetsse/pkg/sse"
)

// Lite serves the live phase of plain HTTP/1.x SSE connections without a
// goroutine per connection. Once a stream has caught up, its connection is
// hijacked from net/http and handed over:
//
//   - a small pool of workers writes queued events with non-blocking
//     writes, so no worker ever waits on a client;
//   - a connection whose socket buffer is full gets a goroutine of its own
//     only until its backlog is written (or --write-timeout passes and it is
//     cut off as too slow);
//   - one goroutine watches every connection with epoll for hang-ups, and
//     one ticker schedules heartbeats.
//
// An idle connection thus costs its socket and a few hundred bytes of
// state instead of two goroutines and net/http's buffers. Run must be
// running while connections are added.
type Lite struct {
	heartbeat    time.Duration
	writeTimeout time.Duration
	retry        time.Duration
	workers      int
	logger       *slog.Logger

	epfd   int
	wakefd int // an eventfd in the epoll set (id 0): written to stop watch

	mu     sync.Mutex
	conns  map[uint64]*liteConn
	nextID uint64
	closed bool

	qmu   sync.Mutex
	qcond *sync.Cond
	queue []*liteConn

	wg sync.WaitGroup
}

// LiteConfig configures Lite.
type LiteConfig struct {
	Heartbeat    time.Duration // default 15s
	WriteTimeout time.Duration // default 10s
	Retry        time.Duration // base reconnect delay told on drain (default 2s)
	Workers      int           // default 2 × GOMAXPROCS
	Logger       *slog.Logger
}

// NewLite returns a Lite, or an error if epoll is unavailable.
func NewLite(cfg LiteConfig) (*Lite, error) {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 2 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = syscall.Close(epfd)
		return nil, err
	}
	// Connection ids start at 1: id 0 is the wake-up.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(wakefd)
		return nil, err
	}
	l := &Lite{
		heartbeat: cfg.Heartbeat, writeTimeout: cfg.WriteTimeout, retry: cfg.Retry,
		workers: cfg.Workers, logger: cfg.Logger, epfd: epfd, wakefd: wakefd,
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
	one := [8]byte{1}
	_, _ = syscall.Write(l.wakefd, one[:]) // ends watch
	l.qmu.Lock()
	l.qcond.Broadcast()
	l.qmu.Unlock()
	l.wg.Wait()
	_ = syscall.Close(l.wakefd)
	return syscall.Close(l.epfd)
}

// Connections returns how many connections Lite holds.
func (l *Lite) Connections() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// epollET is EPOLLET as the uint32 the event mask is.
const epollET = 1 << 31

type liteConn struct {
	l    *Lite
	id   uint64
	conn net.Conn
	raw  syscall.RawConn
	st   *Stream

	scheduled    atomic.Bool
	heartbeatDue atomic.Bool
	lastWrite    atomic.Int64

	mu        sync.Mutex
	busy      bool // a flusher goroutine owns the socket
	closed    bool
	pendingEv []*fanout.Event
}

// errLiteClosed: Lite stopped; the caller keeps the connection.
var errLiteClosed = errors.New("edge: lite connections stopped")

// add takes over a hijacked connection whose stream is Live. On error the
// caller still owns conn and st.
func (l *Lite) add(conn net.Conn, st *Stream) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errors.New("edge: connection has no file descriptor")
	}
	raw, err := sc.SyscallConn()
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
	c := &liteConn{l: l, id: l.nextID, conn: conn, raw: raw, st: st}
	c.lastWrite.Store(time.Now().UnixNano())
	l.conns[c.id] = c
	l.mu.Unlock()

	var cerr error
	err = raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{
			Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR | epollET,
			Fd:     int32(uint32(c.id)),
			Pad:    int32(uint32(c.id >> 32)),
		}
		cerr = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		l.mu.Lock()
		delete(l.conns, c.id)
		l.mu.Unlock()
		return err
	}
	st.SetWake(c.schedule)
	c.schedule() // events may have been queued before the wake was set
	return nil
}

func (c *liteConn) schedule() {
	if !c.scheduled.CompareAndSwap(false, true) {
		return
	}
	l := c.l
	l.qmu.Lock()
	l.queue = append(l.queue, c)
	l.qmu.Unlock()
	l.qcond.Signal()
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
		n := min(len(l.queue), max(16, len(l.queue)/l.workers))
		work = append(work[:0], l.queue[:n]...)
		l.queue = append(l.queue[:0], l.queue[n:]...)
		l.qmu.Unlock()
		for _, c := range work {
			batch, buf = c.process(batch[:0], buf[:0])
		}
		clear(work)
		clear(batch)
	}
}

// process writes what the stream has queued, without blocking.
func (c *liteConn) process(batch []*fanout.Event, buf []byte) ([]*fanout.Event, []byte) {
	c.scheduled.Store(false) // a wake from now on schedules again
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.busy {
		return batch, buf
	}
	batch, err := c.st.Poll(batch)
	end := err != nil
	switch {
	case err == nil && len(batch) > 0:
		for _, ev := range batch {
			buf = append(buf, ev.Frame...)
		}
		c.heartbeatDue.Store(false)
	case err == nil && c.heartbeatDue.Swap(false):
		buf = sse.AppendComment(buf, "")
	case err == nil:
		return batch, buf
	case errors.Is(err, ErrTakenOver):
		buf = append(buf, c.st.TakeoverFrame()...)
	case errors.Is(err, ErrDraining), errors.Is(err, ErrStreamReset):
		buf = sse.AppendRetry(buf, jitter(c.l.retry))
	}
	if len(buf) > 0 {
		n, werr := c.write(buf)
		if werr != nil {
			c.st.WriteFailed(werr)
			c.closeLocked()
			return batch, buf
		}
		if n < len(buf) {
			// The socket is full: a goroutine finishes this write.
			c.st.Delivered(n, nil, 0)
			c.busy = true
			c.pendingEv = append(c.pendingEv[:0], batch...)
			pending := append([]byte(nil), buf[n:]...)
			c.l.wg.Add(1)
			go c.flush(pending, end)
			return batch, buf
		}
		now := time.Now().UnixNano()
		c.lastWrite.Store(now)
		c.st.Delivered(n, batch, now)
	}
	if end {
		c.closeLocked()
	}
	return batch, buf
}

// write writes buf without waiting: it returns how much the socket took.
func (c *liteConn) write(buf []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), buf)
			if werr != syscall.EINTR {
				return true // never wait for the socket here
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	if werr == syscall.EAGAIN {
		return n, nil
	}
	return n, werr
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
	c.lastWrite.Store(now)
	c.st.Delivered(len(pending), c.pendingEv, now)
	clear(c.pendingEv)
	c.pendingEv = c.pendingEv[:0]
	if end {
		c.closeLocked()
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.schedule() // events may have queued meanwhile
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
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(c.l.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	c.st.freezeAcks()
	_ = c.conn.Close()
	c.l.mu.Lock()
	delete(c.l.conns, c.id)
	c.l.mu.Unlock()
	c.st.Close()
}

// watch reports hang-ups: a peer that closes its side, or sends anything
// (an SSE client has nothing to say), is closed.
func (l *Lite) watch() {
	defer l.wg.Done()
	events := make([]syscall.EpollEvent, 256)
	for {
		// No timeout: an idle node sleeps here until a hang-up or the
		// wake-up that Run sends when it stops.
		n, err := syscall.EpollWait(l.epfd, events, -1)
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if closed {
			return
		}
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			l.logger.Error("epoll", "err", err)
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				continue // the wake-up; closed is checked above
			}
			l.mu.Lock()
			c := l.conns[id]
			l.mu.Unlock()
			if c == nil {
				continue
			}
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 || c.readGone() {
				c.hangup()
			}
		}
	}
}

// readGone reads (and drops) what the peer sent; it reports whether the
// peer closed its side.
func (c *liteConn) readGone() bool {
	var buf [512]byte
	gone := false
	_ = c.raw.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.Read(int(fd), buf[:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return true
			case err != nil || n == 0:
				gone = true
				return true
			}
		}
	})
	return gone
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
			if now-c.lastWrite.Load() >= int64(l.heartbeat) && !c.heartbeatDue.Load() {
				due = append(due, c)
			}
		}
		l.mu.Unlock()
		for _, c := range due {
			c.heartbeatDue.Store(true)
			c.schedule()
		}
		clear(due)
		due = due[:0]
	}
}
