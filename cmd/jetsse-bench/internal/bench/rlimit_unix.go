//go:build unix && !darwin

package bench

import "golang.org/x/sys/unix"

// RaiseFDLimit raises the soft RLIMIT_NOFILE to the hard limit and returns
// the new soft limit: the number of file descriptors (connections) the
// process may have open.
func RaiseFDLimit() (uint64, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
			return 0, err
		}
	}
	// The fields are int64 on some systems (FreeBSD); limits are never
	// negative.
	return uint64(r.Cur), nil
}
