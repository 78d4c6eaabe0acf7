//go:build !linux

package platform

import "syscall"

// Poller is not available here (see NewPoller).
type Poller struct{}

// Ready is a watched connection with news.
type Ready struct {
	ID     uint64
	HungUp bool
}

// NewPoller returns ErrUnsupported: without epoll, every connection keeps
// a goroutine of its own.
func NewPoller() (*Poller, error) { return nil, ErrUnsupported }

// Add returns ErrUnsupported.
func (p *Poller) Add(syscall.RawConn, uint64) error { return ErrUnsupported }

// Remove does nothing.
func (p *Poller) Remove(syscall.RawConn) {}

// Wait returns ErrUnsupported.
func (p *Poller) Wait(dst []Ready) ([]Ready, error) { return dst, ErrUnsupported }

// Wake does nothing.
func (p *Poller) Wake() {}

// Close does nothing.
func (p *Poller) Close() error { return nil }
