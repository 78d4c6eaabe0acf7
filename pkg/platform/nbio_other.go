//go:build !linux

package platform

import "syscall"

// FD returns ErrUnsupported here.
func FD(syscall.RawConn) (int, error) { return -1, ErrUnsupported }

// WriteFD returns ErrUnsupported here.
func WriteFD(int, []byte) (int, error) { return 0, ErrUnsupported }

// Discard reports nothing here.
func Discard(syscall.RawConn) bool { return false }
