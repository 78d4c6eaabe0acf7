//go:build linux

package platform

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Poller watches many connections for news: a hang-up, or bytes from the
// peer (an SSE client has nothing to say, so both mean it is going away).
// It is edge-triggered: each change is reported once. Wait may run in one
// goroutine while others Add and Remove.
type Poller struct {
	epfd   int
	wakefd int // an eventfd in the set under id 0: written by Wake
}

// Ready is a watched connection with news.
type Ready struct {
	ID     uint64
	HungUp bool // the peer closed or reset; otherwise it sent bytes (see Discard)
}

// NewPoller returns a Poller (epoll).
func NewPoller() (*Poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(wakefd)
		return nil, err
	}
	return &Poller{epfd: epfd, wakefd: wakefd}, nil
}

// epollET is EPOLLET as the uint32 the event mask is.
const epollET = 1 << 31

// Add watches the connection behind raw under id, which must not be 0.
func (p *Poller) Add(raw syscall.RawConn, id uint64) error {
	var cerr error
	err := raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{
			Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR | epollET,
			Fd:     int32(uint32(id)),
			Pad:    int32(uint32(id >> 32)),
		}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	return cerr
}

// Remove stops watching the connection behind raw.
func (p *Poller) Remove(raw syscall.RawConn) {
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// Wait blocks until watched connections have news, or Wake is called, and
// appends them to dst (nothing for a wake-up). It does not time out: an idle
// process sleeps here.
func (p *Poller) Wait(dst []Ready) ([]Ready, error) {
	var events [256]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(p.epfd, events[:], -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return dst, err
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				continue // the wake-up
			}
			dst = append(dst, Ready{ID: id, HungUp: ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0})
		}
		return dst, nil
	}
}

// Wake makes a Wait in progress (or the next one) return.
func (p *Poller) Wake() {
	one := [8]byte{1}
	_, _ = syscall.Write(p.wakefd, one[:])
}

// Close releases the poller. No Wait may be running.
func (p *Poller) Close() error {
	_ = syscall.Close(p.wakefd)
	return syscall.Close(p.epfd)
}
