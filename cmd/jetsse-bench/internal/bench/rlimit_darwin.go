package bench

import "golang.org/x/sys/unix"

// RaiseFDLimit raises the soft RLIMIT_NOFILE to the hard limit, but no
// higher than kern.maxfilesperproc, and returns the new soft limit: the
// number of file descriptors (connections) the process may have open.
//
// macOS refuses a soft limit above kern.maxfilesperproc (typically when the
// hard limit is unlimited); the Go runtime caps its own raise the same way.
func RaiseFDLimit() (uint64, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	ceiling := r.Max
	if n, err := unix.SysctlUint32("kern.maxfilesperproc"); err == nil && uint64(n) < ceiling {
		ceiling = uint64(n)
	}
	if r.Cur < ceiling {
		r.Cur = ceiling
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
			return 0, err
		}
	}
	return r.Cur, nil
}
