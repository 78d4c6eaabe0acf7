package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ClockTicks is the unit of utime and stime in /proc/<pid>/stat
// (sysconf(_SC_CLK_TCK), 100 on every Linux this tool targets).
const ClockTicks = 100

func (p Procs) root() string {
	if p.Root == "" {
		return "/proc"
	}
	return p.Root
}

// CPUSeconds returns utime+stime of every process, summed, in seconds.
func (p Procs) CPUSeconds() (float64, error) {
	var ticks uint64
	for _, pid := range p.PIDs {
		t, err := readStatTicks(fmt.Sprintf("%s/%d/stat", p.root(), pid))
		if err != nil {
			return 0, err
		}
		ticks += t
	}
	return float64(ticks) / ClockTicks, nil
}

// RSSKiB returns VmRSS of every process, summed, in KiB.
func (p Procs) RSSKiB() (uint64, error) {
	var sum uint64
	for _, pid := range p.PIDs {
		v, err := readStatusKiB(fmt.Sprintf("%s/%d/status", p.root(), pid), "VmRSS:")
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// readStatTicks returns utime+stime (fields 14 and 15) of a stat file. The
// command name (field 2) may contain spaces and parentheses, so fields are
// counted from the last ')'.
func readStatTicks(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name", path)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: %d fields", path, len(f)+2)
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: bad utime/stime", path)
	}
	return ut + st, nil
}

// readStatusKiB returns the value of a "Name:   123 kB" line of a status
// file.
func readStatusKiB(path, name string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte(name))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseUint(string(f[0]), 10, 64)
	}
	return 0, fmt.Errorf("%s: no %s line", path, name)
}
