// Package app is the jetsse command: flags (environment variables fill what
// the command line leaves unset), the wiring of every part, and the actors
// that run them. cmd/jetsse's main calls Run; tests call it too, so they
// drive exactly the wiring users run.
package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jetsse/jetsse/pkg/session"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// Ready describes a running server; Run reports it once the HTTP listener
// accepts connections.
type Ready struct {
	HTTPAddr     string // host:port of the HTTP listener
	NATSURL      string // URL NATS clients use ("" without a client listener)
	PublishToken string
	DataDir      string
	// NATSUser and NATSPassword are the credentials clients of the
	// embedded NATS server must present (both "" when it requires none,
	// and with --nats-url).
	NATSUser, NATSPassword string
	// NodeID is this node's name (--node-id, or the generated one).
	NodeID     string
	AdminAddr  string // host:port of the admin listener ("" with --admin-addr "")
	AdminToken string // the bearer token the admin listener wants
}

// Options are for callers that run the command in-process.
type Options struct {
	Stdout io.Writer
	Stderr io.Writer
	// OnReady, if set, is called once the server accepts HTTP connections.
	OnReady func(Ready)
	// HandleSignals makes SIGINT and SIGTERM stop the server (the binary
	// sets it; tests end Run by cancelling ctx).
	HandleSignals bool
}

// Run runs the jetsse command line: `jetsse serve [flags]`, `jetsse keygen`.
// Flags may also be set by environment variables: JETSSE_HTTP_ADDR for
// --http-addr, and so on.
func Run(ctx context.Context, args []string, opts Options) error {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	var cfg config
	serveFS := flag.NewFlagSet("jetsse serve", flag.ContinueOnError)
	serveFS.SetOutput(opts.Stderr)
	cfg.register(serveFS)

	serve := &ffcli.Command{
		Name:       "serve",
		ShortUsage: "jetsse serve [flags]",
		ShortHelp:  "run the SSE edge (with an embedded NATS server unless --nats-url is given)",
		FlagSet:    serveFS,
		Options:    []ff.Option{ff.WithEnvVarPrefix("JETSSE")},
		Exec: func(ctx context.Context, _ []string) error {
			return serveCmd(ctx, cfg, opts)
		},
	}
	keygen := &ffcli.Command{
		Name:       "keygen",
		ShortUsage: "jetsse keygen",
		ShortHelp:  "print a new random session key (a line for --session-key-file)",
		Exec: func(context.Context, []string) error {
			k, err := session.NewRandomKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(opts.Stdout, k)
			return err
		},
	}
	rootFS := flag.NewFlagSet("jetsse", flag.ContinueOnError)
	rootFS.SetOutput(opts.Stderr)
	root := &ffcli.Command{
		ShortUsage:  "jetsse <serve|keygen> [flags]",
		FlagSet:     rootFS,
		Subcommands: []*ffcli.Command{serve, keygen},
		Exec: func(context.Context, []string) error {
			return flag.ErrHelp
		},
	}
	if err := root.Parse(args); err != nil {
		return err
	}
	cfg.noteExplicit(serveFS)
	return root.Run(ctx)
}

func newLogger(c config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", c.logFormat)
}

func parseSync(s string) (always bool, interval time.Duration, err error) {
	if s == "always" {
		return true, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("--nats-sync: %q is not \"always\" or a positive duration", s)
	}
	return false, d, nil
}
