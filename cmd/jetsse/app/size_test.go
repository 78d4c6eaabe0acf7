package app

import (
	"flag"
	"io"
	"strconv"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bits int
		want int64
		err  bool
	}{
		// Plain numbers mean what they meant before units: the flag
		// package's integers.
		{in: "0", bits: 64, want: 0},
		{in: "1048576", bits: 64, want: 1 << 20},
		{in: "-1", bits: 64, want: -1},
		{in: "0x100", bits: 64, want: 256},
		{in: " 42 ", bits: 64, want: 42},
		{in: "1_000", bits: 64, want: 1000},
		// Units, binary and decimal, in any case, with or without a space.
		{in: "64MiB", bits: 64, want: 64 << 20},
		{in: "1GiB", bits: 64, want: 1 << 30},
		{in: "512KB", bits: 64, want: 512_000},
		{in: "512kb", bits: 64, want: 512_000},
		{in: "2 KiB", bits: 64, want: 2048},
		{in: "7B", bits: 64, want: 7},
		{in: "3MB", bits: 64, want: 3_000_000},
		{in: "1GB", bits: 64, want: 1_000_000_000},
		{in: "2TiB", bits: 64, want: 2 << 40},
		{in: "5TB", bits: 64, want: 5e12},
		{in: "0GiB", bits: 64, want: 0},
		{in: "2047MiB", bits: 32, want: 2047 << 20},
		// Refused.
		{in: "", bits: 64, err: true},
		{in: "MiB", bits: 64, err: true},
		{in: "1.5GiB", bits: 64, err: true},
		{in: "-1MiB", bits: 64, err: true},
		{in: "+1MiB", bits: 64, err: true},
		{in: "1_0KiB", bits: 64, err: true},
		{in: "0x10KiB", bits: 64, err: true},
		{in: "10M", bits: 64, err: true},
		{in: "10 parsecs", bits: 64, err: true},
		{in: "1e6", bits: 64, err: true},
		{in: "2GiB", bits: 32, err: true},
		{in: "2147483648", bits: 32, err: true},
		{in: "8388608TiB", bits: 64, err: true},
		{in: "99999999999999999999KiB", bits: 64, err: true},
	} {
		got, err := parseSize(tc.in, tc.bits)
		switch {
		case tc.err && err == nil:
			t.Errorf("parseSize(%q, %d) = %d, want an error", tc.in, tc.bits, got)
		case !tc.err && err != nil:
			t.Errorf("parseSize(%q, %d): %v", tc.in, tc.bits, err)
		case !tc.err && got != tc.want:
			t.Errorf("parseSize(%q, %d) = %d, want %d", tc.in, tc.bits, got, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for in, want := range map[int64]string{
		0: "0", 1: "1", 1000: "1000", 1024: "1KiB", 1536: "1536",
		64 << 20: "64MiB", 1 << 30: "1GiB", 3 << 40: "3TiB", -2048: "-2048",
	} {
		if got := formatSize(in); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSizeRoundTrip: whatever formatSize writes, parseSize reads back.
func FuzzSizeRoundTrip(f *testing.F) {
	for _, n := range []int64{0, 1, 1023, 1024, 64 << 20, 1 << 62, -1 << 63, 1<<63 - 1} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		s := formatSize(n)
		got, err := parseSize(s, 64)
		if err != nil || got != n {
			t.Fatalf("formatSize(%d) = %q, parsed back as %d, %v", n, s, got, err)
		}
	})
}

func TestSizeFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var big int64
	var small int32
	var plain int
	sizeVar(fs, &big, "big", 1<<30, "")
	sizeVar(fs, &small, "small", 2<<20, "")
	sizeVar(fs, &plain, "plain", 1000, "")
	if d := fs.Lookup("big").DefValue; d != "1GiB" {
		t.Errorf("default shown as %q, want 1GiB", d)
	}
	if d := fs.Lookup("plain").DefValue; d != "1000" {
		t.Errorf("default shown as %q, want 1000", d)
	}
	if err := fs.Parse([]string{"--big=64MiB", "--small", "512KB", "--plain=4096"}); err != nil {
		t.Fatal(err)
	}
	if big != 64<<20 || small != 512_000 || plain != 4096 {
		t.Errorf("got big=%d small=%d plain=%d", big, small, plain)
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse([]string{"--small=4GiB"}); err == nil {
		t.Errorf("--small=4GiB fit in an int32: %d", small)
	}
	if err := fs.Parse([]string{"--big=" + strconv.Quote("x")}); err == nil {
		t.Error("a quoted word parsed as a size")
	}
}
