//go:build !linux

package platform

import "net"

// AckedBytes returns nil here: the system does not say what the peer
// acknowledged, so a session's stored position is what the socket accepted
// (a page refresh may then lose the events that were in flight; a client
// that sends Last-Event-ID loses nothing).
func AckedBytes(net.Conn) func() (acked uint64, reset bool, ok bool) { return nil }
