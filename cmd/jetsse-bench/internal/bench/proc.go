package bench

import "errors"

// Procs reads CPU time and memory of the server's processes. The zero value
// (no pids) measures nothing. It is safe for concurrent use.
//
// Where the numbers come from is the platform's: on Linux, /proc/<pid>/stat
// and /proc/<pid>/status (proc_linux.go). Other systems have no /proc in
// that form, so there CPUSeconds and RSSKiB return ErrProcUnavailable
// (proc_other.go) and nothing is measured.
type Procs struct {
	PIDs []int
	// Root is the proc file system on Linux (default /proc); tests may
	// point it elsewhere. Other systems do not use it.
	Root string
}

// ErrProcUnavailable is returned by Procs' measurements on systems without
// Linux's /proc: a server's CPU time and memory cannot be read there (run
// without --pid).
var ErrProcUnavailable = errors.New("process CPU time and memory are read from Linux's /proc, which this system does not have")

// Enabled reports whether there is anything to measure.
func (p Procs) Enabled() bool { return len(p.PIDs) > 0 }
