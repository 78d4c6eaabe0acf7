// Package platform is jetsse's operating-system code: what the kernel can
// tell about a TCP connection and how to wait on many connections at once.
// Each function has one file per system that has it and one fallback file
// for the others (the way nats-server's server/pse does it). It imports
// nothing of jetsse.
//
// On Linux:
//   - AckedBytes reads what the peer's TCP stack acknowledged
//     (tcpi_bytes_acked), so a session's stored position counts only
//     events its client surely had;
//   - NewPoller watches connections for hang-ups with epoll, and
//     FD / WriteFD / Discard write and read without waiting, so a few shared
//     goroutines can serve every idle connection.
//
// Elsewhere AckedBytes reports nothing (positions count what was written
// to the socket), and NewPoller returns ErrUnsupported (every connection
// then keeps a goroutine of its own).
package platform

import "errors"

// ErrUnsupported: the function needs an operating system this is not.
var ErrUnsupported = errors.New("platform: not supported on this system")
