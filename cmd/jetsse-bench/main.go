// Command jetsse-bench is jetsse's load tool: raw-TCP SSE subscribers, a
// publisher over NATS JetStream or an HTTP publish URL, and the scenarios
// fanout, idle, resume, storm and sparse. Each run prints a progress line
// every second to stderr, its results as JSON to stdout (and --out), and
// scaling runs can be drawn as an SVG chart (--chart, or the chart
// subcommand over several result files, e.g. jetsse and a peer).
//
// Run `jetsse-bench -h` for the subcommands and `jetsse-bench <cmd> -h`
// for their flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "jetsse-bench:", err)
		os.Exit(1)
	}
}
