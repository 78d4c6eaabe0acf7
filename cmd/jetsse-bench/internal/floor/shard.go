package floor

import (
	"net"
	"sync"
)

// conn is one live connection.
type conn struct {
	net.Conn
	topic string
}

// shard is the connections one writer goroutine owns.
type shard struct {
	mu    sync.Mutex // held for a whole write round, and to join or leave
	conns map[*conn]struct{}
	round chan map[string][]byte // frames by topic; closed when Run ends
	done  chan struct{}          // one value per round, one when serve ends
}

// serve writes each round's frames to the shard's connections with one
// plain Write each, until round is closed. A connection whose write fails
// is closed and dropped (its reader then sees the error and ends).
func (sh *shard) serve() {
	defer func() { sh.done <- struct{}{} }()
	for batch := range sh.round {
		sh.mu.Lock()
		for c := range sh.conns {
			b := batch[c.topic]
			if len(b) == 0 {
				continue
			}
			if _, err := c.Write(b); err != nil {
				delete(sh.conns, c)
				_ = c.Close()
			}
		}
		sh.mu.Unlock()
		sh.done <- struct{}{}
	}
}

// join writes head to c and adds c to the shard, between rounds; it
// reports whether c is in.
func (sh *shard) join(c *conn, head []byte) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
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
