// Command jetsse is an SSE edge on NATS JetStream. Run `jetsse serve -h`
// for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/jetsse/jetsse/cmd/jetsse/app"
)

func main() {
	err := app.Run(context.Background(), os.Args[1:], app.Options{
		Stdout: os.Stdout, Stderr: os.Stderr, HandleSignals: true,
	})
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "jetsse:", err)
		os.Exit(1)
	}
}
