//go:build linux

package platform

import "syscall"

// WriteNow writes buf to the connection behind raw without waiting for
// room: it returns how much the socket took (possibly 0).
func WriteNow(raw syscall.RawConn, buf []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
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
