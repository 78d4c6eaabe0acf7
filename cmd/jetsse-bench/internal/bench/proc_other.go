//go:build !linux

package bench

import (
	"fmt"
	"runtime"
)

// CPUSeconds would return utime+stime of every process, summed, in
// seconds; this system has no Linux /proc to read them from, so it returns
// ErrProcUnavailable.
func (p Procs) CPUSeconds() (float64, error) { return 0, p.unavailable() }

// RSSKiB would return the resident memory of every process, summed, in KiB;
// this system has no Linux /proc to read it from, so it returns
// ErrProcUnavailable.
func (p Procs) RSSKiB() (uint64, error) { return 0, p.unavailable() }

func (p Procs) unavailable() error {
	return fmt.Errorf("%w (%s)", ErrProcUnavailable, runtime.GOOS)
}
