//go:build !linux

package bench

import (
	"errors"
	"os"
	"testing"
)

// Without Linux's /proc the measurements say so instead of reporting zero.
func TestProcsUnavailable(t *testing.T) {
	p := Procs{PIDs: []int{os.Getpid()}}
	if v, err := p.CPUSeconds(); !errors.Is(err, ErrProcUnavailable) {
		t.Errorf("CPUSeconds = %v, %v; want ErrProcUnavailable", v, err)
	}
	if v, err := p.RSSKiB(); !errors.Is(err, ErrProcUnavailable) {
		t.Errorf("RSSKiB = %v, %v; want ErrProcUnavailable", v, err)
	}
}
