package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort is the Control of dialers bound to a source address. It sets
// IP_BIND_ADDRESS_NO_PORT so that binding the address does not reserve an
// ephemeral port before connect (ports are then shared across
// destinations).
func bindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
