package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jetsse/jetsse/cmd/jetsse-bench/internal/bench"
)

// writeChartFile draws pts as an SVG chart into the file at path.
func writeChartFile(path string, pts []bench.ChartPoint, co bench.ChartOptions) error {
	var b bytes.Buffer
	if err := bench.WriteChart(&b, pts, co); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// chartCmd is the chart subcommand: one SVG chart from result files.
func chartCmd(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("jetsse-bench chart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "chart.svg", "SVG file to write")
	title := fs.String("title", "", "chart title")
	goals := fs.Bool("goals", true, "draw the goal lines of docs/benchmarks.md (3 µs per delivery, 16 KiB per session)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: jetsse-bench chart [flags] results.json [more.json ...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("chart needs at least one result file")
	}
	pts, err := bench.ReadChartPoints(fs.Args()...)
	if err != nil {
		return err
	}
	return writeChartFile(*out, pts, bench.ChartOptions{Title: *title, Goals: *goals})
}
