//go:build !linux

package platform

import "syscall"

// WriteNow returns ErrUnsupported here (see NewPoller).
func WriteNow(syscall.RawConn, []byte) (int, error) { return 0, ErrUnsupported }

// Discard reports nothing here.
func Discard(syscall.RawConn) bool { return false }
