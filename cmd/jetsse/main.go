// Command jetsse is an SSE edge on NATS JetStream. Run `jetsse -h` for its
// commands and `jetsse serve -h` for the server's flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/jetsse/jetsse/cmd/jetsse/app"
)

// version is the build's version when its linker flags set it
// (-X main.version=…, as the Dockerfile does); `jetsse version` falls back
// to the module version in the build info.
var version string

func main() {
	err := app.Run(context.Background(), os.Args[1:], app.Options{
		Stdout: os.Stdout, Stderr: os.Stderr, HandleSignals: true, Version: version,
	})
	switch {
	case err == nil:
	case errors.Is(err, app.ErrUsage):
		fmt.Fprintln(os.Stderr, "jetsse:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "jetsse:", err)
		os.Exit(1)
	}
}
