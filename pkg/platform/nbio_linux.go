//go:build linux

package platform

import (
	"syscall"
	"unsafe"
)

// FD returns the file descriptor behind raw, for WriteFD. The caller must
// not use it once the connection may have been closed: the number could
// then name another file.
func FD(raw syscall.RawConn) (int, error) {
	fd := -1
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// WriteFD writes buf to a socket's descriptor (from FD) without waiting
// for room: it returns how much the socket took (possibly 0). It bypasses
// the runtime's descriptor lock and poller bookkeeping (about 1 µs a
// write on a 2-core VM); the caller's own lock must keep the connection
// from being closed meanwhile. It is send(2), not write(2): a socket's
// send skips the file layer write(2) passes through (vfs_write and its
// position lock), 2.4% of the server's CPU at 10 events/s to 1,000
// subscribers (docs/benchmarks.md, eighth pass); MSG_NOSIGNAL makes a
// closed peer an EPIPE error, never a signal. It is a raw system call (the
// scheduler is not told): with MSG_DONTWAIT it never waits, it only works
// (a few microseconds on loopback, where it also runs the receiving
// socket's side), and the runtime's bookkeeping around a call that may
// block was another 1% of that row.
func WriteFD(fd int, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	for {
		r, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
			syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno == syscall.EAGAIN:
			return 0, nil
		case errno != 0:
			return 0, errno
		}
		return int(r), nil
	}
}

// Discard reads and drops what the peer sent, without waiting, and reports
// whether the peer closed its side (or the connection failed).
func Discard(raw syscall.RawConn) (gone bool) {
	var buf [512]byte
	_ = raw.Read(func(fd uintptr) bool {
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
