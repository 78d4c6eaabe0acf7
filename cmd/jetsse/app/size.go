package app

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

var errSizeSyntax = errors.New("not a size: want bytes, or a whole number with a unit such as 512KB, 64MiB or 1GiB")

// parseSize reads a size flag's value. A plain number is read as the flag
// package reads integers (strconv.ParseInt with base 0, so "0x100" and a
// negative number mean what they always meant); a number with a unit must
// be a non-negative decimal, and the product must fit in bits bits.
func parseSize(s string, bits int) (int64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 0, bits); err == nil {
		return n, nil
	} else if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	digits := strings.TrimRight(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ")
	unit := strings.TrimSpace(s[len(digits):])
	if digits == "" || unit == "" || strings.ContainsAny(digits, "+-_ ") {
		return 0, errSizeSyntax
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	if err != nil {
		return 0, errSizeSyntax
	}
	// Matched without regard to case: binary (KiB = 1024) and decimal
	// (KB = 1000).
	for _, u := range []struct {
		name string
		mult int64
	}{
		{"B", 1},
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	} {
		if !strings.EqualFold(unit, u.name) {
			continue
		}
		limit := int64(1)<<(bits-1) - 1
		if n > limit/u.mult {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return n * u.mult, nil
	}
	return 0, fmt.Errorf("%q: unknown unit %q (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
}

// formatSize writes n in the largest binary unit that divides it exactly
// ("64MiB"), or in bytes ("1000"; a negative size too).
func formatSize(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// sizeValue is a size flag of integer type T: parseSize's syntax, and
// formatSize's in the help.
type sizeValue[T int | int32 | int64] struct{ p *T }

var _ flag.Value = sizeValue[int]{}

// sizeVar defines a size flag on fs, storing into p with default def (the
// command's help says once that sizes take units).
func sizeVar[T int | int32 | int64](fs *flag.FlagSet, p *T, name string, def T, usage string) {
	*p = def
	fs.Var(sizeValue[T]{p}, name, usage)
}

func (v sizeValue[T]) Set(s string) error {
	n, err := parseSize(s, int(unsafe.Sizeof(*v.p))*8)
	if err != nil {
		return err
	}
	*v.p = T(n)
	return nil
}

func (v sizeValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return formatSize(int64(*v.p))
}
