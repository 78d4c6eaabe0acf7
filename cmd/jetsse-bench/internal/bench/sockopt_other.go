//go:build !linux

package bench

import "syscall"

// bindNoPort is nil here: IP_BIND_ADDRESS_NO_PORT is Linux's, and no option
// is set in its place. Dialers bound to a source address then work as
// usual: binding reserves an ephemeral port of that address at bind time,
// so each source address still has its own ports.
var bindNoPort func(network, address string, c syscall.RawConn) error
