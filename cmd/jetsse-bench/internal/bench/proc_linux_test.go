package bench

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProcs(t *testing.T) {
	root := t.TempDir()
	write := func(pid, name, body string) {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The command name may hold spaces and parentheses.
	write("7", "stat", "7 (we (ird) name) S 1 7 7 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 200\n")
	write("7", "status", "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t  1234 kB\nThreads:\t9\n")
	write("8", "stat", "8 (jetsse) R 1 8 8 0 -1 0 0 0 0 0 100 100 0 0 20 0 1 0 1 1 1\n")
	write("8", "status", "VmRSS:\t1000 kB\n")

	p := Procs{PIDs: []int{7, 8}, Root: root}
	cpu, err := p.CPUSeconds()
	if err != nil || cpu != 5 { // (250+50+100+100) ticks at 100 Hz
		t.Fatalf("CPUSeconds = %v, %v; want 5", cpu, err)
	}
	rss, err := p.RSSKiB()
	if err != nil || rss != 2234 {
		t.Fatalf("RSSKiB = %v, %v; want 2234", rss, err)
	}
	if _, err := (Procs{PIDs: []int{9}, Root: root}).CPUSeconds(); err == nil {
		t.Fatal("missing process: no error")
	}

	// The real thing: this process.
	self := Procs{PIDs: []int{os.Getpid()}}
	if _, err := self.CPUSeconds(); err != nil {
		t.Fatal(err)
	}
	if rss, err := self.RSSKiB(); err != nil || rss == 0 {
		t.Fatalf("own RSS = %v, %v", rss, err)
	}
}
