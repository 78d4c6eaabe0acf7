//go:build !linux

package edge

import "net"

// bytesAcked is not available here: positions are what the socket accepted.
func bytesAcked(net.Conn) func() (acked uint64, reset bool, ok bool) { return nil }
