// Package app is the jetsse command: flags (environment variables fill what
// the command line leaves unset), the wiring of every part, and the actors
// that run them. cmd/jetsse's main calls Run; tests call it too, so they
// drive exactly the wiring users run.
package app

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
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
	// Version is what `jetsse version` reports as the build's version when
	// set (cmd/jetsse passes the one its linker flags set); empty: the main
	// module's version from the build info.
	Version string
}

// ErrUsage is wrapped by the error Run returns for a command line it cannot
// run: no command or an unknown one, an unknown flag, a value that does
// not parse, stray arguments. The error says what was wrong; for all but
// stray arguments Run has written the usage to Options.Stderr too.
// cmd/jetsse exits 2 on it.
var ErrUsage = errors.New("usage")

// envPrefix is how flags are named in the environment: JETSSE_HTTP_ADDR
// for --http-addr (ff.WithEnvVarPrefix).
const envPrefix = "JETSSE"

// EnvVar returns the environment variable that sets `jetsse serve`'s flag
// name: JETSSE_HTTP_ADDR for http-addr.
func EnvVar(name string) string {
	return envPrefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(name))
}

// Run runs the jetsse command line: `jetsse serve [flags]`, `jetsse
// health`, `jetsse version`, `jetsse keygen`, and `jetsse help [command]`.
// `-h` or `--help` anywhere writes the usage to Options.Stdout and returns
// nil. `jetsse serve` also reads each flag from the environment
// (EnvVar); the command line wins.
func Run(ctx context.Context, args []string, opts Options) error {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if len(args) > 0 && args[0] == "help" {
		args = append(slices.Clone(args[1:]), "-h")
	}
	// Usage goes to Stdout when asked for and to Stderr with an error, which
	// is known only once the flag package has written it.
	var usage bytes.Buffer
	root := commands(opts, &usage)
	err := root.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, err = usage.WriteTo(opts.Stdout)
		return err
	case err != nil:
		_, _ = usage.WriteTo(opts.Stderr)
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return root.Run(ctx)
}

// FlagSets returns each subcommand's flags by its name, with their
// defaults, exactly as Run defines them: for tests that hold documentation
// and deployment files to the real command line.
func FlagSets() map[string]*flag.FlagSet {
	root := commands(Options{Stdout: io.Discard, Stderr: io.Discard}, io.Discard)
	sets := map[string]*flag.FlagSet{}
	for _, c := range root.Subcommands {
		sets[c.Name] = c.FlagSet
	}
	return sets
}

// serveParseOptions are how `jetsse serve` reads the environment.
func serveParseOptions() []ff.Option {
	return []ff.Option{ff.WithEnvVarPrefix(envPrefix)}
}

// commands builds the command tree; every flag set writes its usage and
// parse errors to usage.
func commands(opts Options, usage io.Writer) *ffcli.Command {
	newFlagSet := func(name string) *flag.FlagSet {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(usage)
		return fs
	}
	noArgs := func(name string, exec func(context.Context) error) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("%w: jetsse %s takes no arguments, got %q (a boolean flag takes its value after =, as in --lite=false)", ErrUsage, name, args[0])
			}
			return exec(ctx)
		}
	}

	var cfg config
	serveFS := newFlagSet("jetsse serve")
	cfg.register(serveFS)
	serve := &ffcli.Command{
		Name:       "serve",
		ShortUsage: "jetsse serve [flags]",
		ShortHelp:  "run the SSE edge (with an embedded NATS server unless --nats-url is given)",
		LongHelp: fmt.Sprintf("Every flag can also be set by an environment variable: %s_ and the flag's\n"+
			"name in capitals with - as _, e.g. %s=0.0.0.0:8080 for --http-addr\n"+
			"or %s for --admin-token. The command line wins over the\n"+
			"environment. Sizes (--max-bytes, --queue-bytes, ...) take bytes or a unit:\n"+
			"512KB, 64MiB, 1GiB (KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024).",
			envPrefix, EnvVar("http-addr"), EnvVar("admin-token")),
		FlagSet: serveFS,
		Options: serveParseOptions(),
		Exec: noArgs("serve", func(ctx context.Context) error {
			cfg.noteExplicit(serveFS)
			return serveCmd(ctx, cfg, opts)
		}),
	}

	healthFS := newFlagSet("jetsse health")
	url := healthFS.String("url", "http://127.0.0.1:8080/readyz", "the URL to GET")
	timeout := healthFS.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	health := &ffcli.Command{
		Name:       "health",
		ShortUsage: "jetsse health [--url URL] [--timeout D]",
		ShortHelp:  "exit 0 if --url answers 200, 1 otherwise (a container health check)",
		LongHelp: "GETs --url (the edge's public /readyz by default) and exits 0 if it\n" +
			"answers 200 OK, 1 otherwise: a health check for the image, which has\n" +
			"no shell or HTTP client. Change --url with serve's --http-addr. It reads\n" +
			"no " + envPrefix + "_* variables.",
		FlagSet: healthFS,
		Exec: noArgs("health", func(ctx context.Context) error {
			return healthCmd(ctx, *url, *timeout, opts.Stdout)
		}),
	}

	version := &ffcli.Command{
		Name:       "version",
		ShortUsage: "jetsse version",
		ShortHelp:  "print jetsse's version and the Go it was built with",
		FlagSet:    newFlagSet("jetsse version"),
		Exec: noArgs("version", func(context.Context) error {
			return versionCmd(opts.Stdout, opts.Version)
		}),
	}

	keygen := &ffcli.Command{
		Name:       "keygen",
		ShortUsage: "jetsse keygen",
		ShortHelp:  "print a new random session key (a line for --session-key-file)",
		FlagSet:    newFlagSet("jetsse keygen"),
		Exec: noArgs("keygen", func(context.Context) error {
			k, err := session.NewRandomKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(opts.Stdout, k)
			return err
		}),
	}

	root := &ffcli.Command{
		ShortUsage: "jetsse <command> [flags]",
		LongHelp: "Run `jetsse <command> -h` (or `jetsse help <command>`) for a command's flags.\n" +
			"`jetsse serve` reads each flag from the environment too: " + EnvVar("http-addr") + "\n" +
			"for --http-addr, and so on.",
		FlagSet:     newFlagSet("jetsse"),
		Subcommands: []*ffcli.Command{serve, health, version, keygen},
	}
	root.Exec = func(_ context.Context, args []string) error {
		fmt.Fprint(opts.Stderr, ffcli.DefaultUsageFunc(root))
		if len(args) > 0 {
			return fmt.Errorf("%w: unknown command %q", ErrUsage, args[0])
		}
		return fmt.Errorf("%w: no command given", ErrUsage)
	}
	return root
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
