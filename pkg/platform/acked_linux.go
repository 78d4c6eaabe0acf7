//go:build linux

package platform

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// AckedBytes returns a function that reads how many bytes the peer of a TCP
// connection has acknowledged (tcpi_bytes_acked), and whether it reset the
// connection (the socket is in TCP_CLOSE while this side has not closed
// it); ok is false once the socket cannot be asked. It returns nil for a
// connection without a file descriptor.
func AckedBytes(conn net.Conn) func() (acked uint64, reset bool, ok bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return func() (uint64, bool, bool) {
		var acked uint64
		var reset bool
		var ierr error = syscall.EINVAL
		if err := raw.Control(func(fd uintptr) {
			var ti *unix.TCPInfo
			if ti, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr == nil {
				acked = ti.Bytes_acked
				reset = ti.State == tcpClose
			}
		}); err != nil || ierr != nil {
			return 0, false, false
		}
		return acked, reset, true
	}
}

// tcpClose is TCP_CLOSE in tcpi_state: a socket this side has not closed is
// in it only after the peer reset the connection.
const tcpClose = 7
