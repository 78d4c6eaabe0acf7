//go:build !unix

package bench

import "math"

// RaiseFDLimit returns math.MaxUint64: this system (Windows, for one) has
// no RLIMIT_NOFILE, so there is no per-process descriptor limit to raise or
// to check N against. Connections are then bounded only by the system's
// own resources (on Windows, its handle and ephemeral port limits).
func RaiseFDLimit() (uint64, error) { return math.MaxUint64, nil }
