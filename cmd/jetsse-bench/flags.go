package main

import (
	"fmt"
	"strconv"
	"strings"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// intList is a comma-separated list of positive integers.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(s string) error {
	var out intList
	for p := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(p, "_", "")))
		if err != nil || v <= 0 {
			return fmt.Errorf("%q is not a positive integer", p)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

// floatList is a comma-separated list of rates (0 or "max": maximum).
type floatList []float64

func (l *floatList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (l *floatList) Set(s string) error {
	var out floatList
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "max" {
			out = append(out, 0)
			continue
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("%q is not a rate (events/s, or 0 or max for the maximum)", p)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

func intListOf(s string) intList {
	var l intList
	if err := l.Set(s); err != nil {
		panic(err)
	}
	return l
}
