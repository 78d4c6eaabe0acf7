package floor

import (
	"net"
	"sync"
	"syscall"

	"github.com/jetsse/jetsse/pkg/platform"
)

// conn is one live connection.
type conn struct {
	net.Conn
	fd    int // its descriptor for send (see send); -1: none
	topic string
	after uint64 // rounds up to this event were written to it from the ring
}

// newConn returns nc as a conn for topic.
func newConn(nc net.Conn, topic string) *conn {
	c := &conn{Conn: nc, fd: -1, topic: topic}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			if fd, err := platform.FD(raw); err == nil {
				c.fd = fd
			}
		}
	}
	return c
}

// send writes b the way jetsse's pooled writer does, with send(2) on the
// descriptor and no wait (platform.WriteFD), so the floor pays no more per
// write than jetsse; only what the socket did not take goes through the
// runtime's Write, which waits for room. The shard's lock keeps c open
// meanwhile.
func (c *conn) send(b []byte) error {
	if c.fd >= 0 {
		n, err := platform.WriteFD(c.fd, b)
		if err != nil {
			return err
		}
		if b = b[n:]; len(b) == 0 {
			return nil
		}
	}
	_, err := c.Write(b)
	return err
}

// shard is the connections one writer goroutine owns.
type shard struct {
	mu    sync.Mutex // held for a whole write round, and to join or leave
	conns map[*conn]struct{}
	round chan round    // frames by topic; closed when Run ends
	done  chan struct{} // one value per round, one when serve ends
}

// serve writes each round's frames to the shard's connections with one
// send each, until round is closed. A connection whose write fails
// is closed and dropped (its reader then sees the error and ends).
func (sh *shard) serve() {
	defer func() { sh.done <- struct{}{} }()
	for batch := range sh.round {
		sh.mu.Lock()
		for c := range sh.conns {
			b := batch.frames[c.topic]
			if len(b) == 0 || (c.after != 0 && batch.last[c.topic] <= c.after) {
				continue
			}
			if err := c.send(b); err != nil {
				delete(sh.conns, c)
				_ = c.Close()
			}
		}
		sh.mu.Unlock()
		sh.done <- struct{}{}
	}
}

// join writes head to c, then what catchUp (if not nil) appends to it, and
// adds c to the shard, between rounds; it reports whether c is in.
func (sh *shard) join(c *conn, head []byte, catchUp func([]byte) []byte) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if catchUp != nil {
		head = catchUp(head)
	}
	if _, err := c.Write(head); err != nil {
		_ = c.Close()
		return false
	}
	sh.conns[c] = struct{}{}
	return true
}

// leave drops and closes c.
func (sh *shard) leave(c *conn) {
	sh.mu.Lock()
	delete(sh.conns, c)
	sh.mu.Unlock()
	_ = c.Close()
}

// closeAll closes every connection; their readers then leave.
func (sh *shard) closeAll() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for c := range sh.conns {
		_ = c.Close()
	}
}
