package validate

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"testing"

	"github.com/jetsse/jetsse/cmd/jetsse/app"
)

// use is one jetsse invocation found in a deployment file.
type use struct {
	where string  // "docker-compose.yml service edge-1", ...
	args  cmdline // after the binary; a subcommand first
	// env is the JETSSE_* variables set for it, with their values where
	// the file holds them (nil: from a Secret or the downward API).
	env map[string]*string
}

// The image's CMD starts with serve; a command or args in Compose or
// Kubernetes replaces all of it.
const defaultSubcommand = "serve"

// flagSet returns a fresh copy of subcommand sub's real flags (nil if
// there is no such subcommand): the jetsse command line itself, through
// the replace directive in go.mod, not its help text.
func flagSet(sub string) *flag.FlagSet {
	fs := app.FlagSets()[sub]
	if fs != nil {
		fs.SetOutput(io.Discard)
	}
	return fs
}

// envFlags maps each environment variable `jetsse serve` reads to its flag.
func envFlags() map[string]string {
	m := map[string]string{}
	flagSet(defaultSubcommand).VisitAll(func(f *flag.Flag) { m[app.EnvVar(f.Name)] = f.Name })
	return m
}

// value returns --name as c gives it, or else the real default of that
// flag of c's subcommand (serve when c names none).
func (c cmdline) value(t testing.TB, name string) string {
	t.Helper()
	if v, ok := c.flag(name); ok {
		return v
	}
	sub := c.subcommand()
	if sub == "" {
		sub = defaultSubcommand
	}
	fs := flagSet(sub)
	if fs == nil || fs.Lookup(name) == nil {
		t.Fatalf("jetsse %s has no flag --%s", sub, name)
	}
	return fs.Lookup(name).DefValue
}

// allUses lists every jetsse invocation of the deployment files.
func allUses(t *testing.T) []use {
	var uses []use
	uses = append(uses, dockerfileUses(t)...)
	uses = append(uses, composeUses(t)...)
	uses = append(uses, kubernetesUses(t)...)
	if len(uses) == 0 {
		t.Fatal("found no jetsse invocation in the deployment files")
	}
	return uses
}

// TestJetsseCommandLine parses the arguments and environment every
// deployment file gives jetsse with the real flag sets: each subcommand and
// flag exists, each value parses (sizes, durations, booleans), nothing is
// left over, and each JETSSE_* variable names a flag of serve.
func TestJetsseCommandLine(t *testing.T) {
	envs := envFlags()
	for _, u := range allUses(t) {
		if len(u.args) == 0 {
			continue // the image's CMD, checked as its own use
		}
		sub := u.args.subcommand()
		if sub == "" {
			t.Errorf("%s: %v names no subcommand; it replaces the image's CMD, so it must start with one (serve)", u.where, u.args)
			continue
		}
		fs := flagSet(sub)
		if fs == nil {
			t.Errorf("%s: jetsse has no subcommand %q", u.where, sub)
			continue
		}
		if err := fs.Parse(u.args[1:]); err != nil {
			t.Errorf("%s: jetsse %s: %v", u.where, sub, err)
		} else if fs.NArg() > 0 {
			t.Errorf("%s: jetsse %s: stray arguments %q (a boolean flag takes its value after =)", u.where, sub, fs.Args())
		}
	}
	for _, u := range allUses(t) {
		for _, k := range sortedKeys(u.env) {
			name, ok := envs[k]
			if !ok {
				t.Errorf("%s: %s is no flag of jetsse serve (its variables are %s)", u.where, k, app.EnvVar("<flag-name>"))
				continue
			}
			if v := u.env[k]; v != nil {
				if err := flagSet(defaultSubcommand).Set(name, *v); err != nil {
					t.Errorf("%s: %s=%q: %v", u.where, k, *v, err)
				}
			}
		}
	}
}

// served is a serve invocation's settings as jetsse will see them: from
// the command line, else from the environment, else the real default.
type served struct {
	u    use
	args cmdline
}

// get returns the setting and where it comes from ("flag", "env" or
// "default"); an env value from a Secret is "" with from "env".
func (s served) get(t testing.TB, name string) (v, from string) {
	t.Helper()
	if v, ok := s.args.flag(name); ok {
		return v, "flag"
	}
	if p, ok := s.u.env[app.EnvVar(name)]; ok {
		if p == nil {
			return "", "env"
		}
		return *p, "env"
	}
	return s.args.value(t, name), "default"
}

func (s served) given(t testing.TB, name string) bool {
	_, from := s.get(t, name)
	return from != "default"
}

// isTrue reads a boolean flag's setting; a bare --flag is true.
func (s served) isTrue(t testing.TB, name string) bool {
	v, from := s.get(t, name)
	if from == "flag" && v == "" {
		return true
	}
	return v == "true" || v == "1"
}

// loopback reports whether a listen address is reachable from this host
// only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TestJetsseServeWiring checks what jetsse serve requires of each
// deployment's settings, with the real defaults filled in: a public
// listener beyond loopback has subscriber authentication or says it allows
// anonymous readers; an admin listener beyond loopback gets one shared
// token from the environment; an external NATS cluster gets credentials;
// secrets never sit on the command line, where ps and the manifest show
// them.
func TestJetsseServeWiring(t *testing.T) {
	n := 0
	for _, u := range allUses(t) {
		args := u.args
		if len(args) > 0 && args.subcommand() != defaultSubcommand {
			continue
		}
		n++
		s := served{u: u, args: args}
		t.Run(u.where, func(t *testing.T) {
			httpAddr, _ := s.get(t, "http-addr")
			if !loopback(httpAddr) {
				auth, _ := s.get(t, "auth")
				switch {
				case auth == "jwt":
					if !s.given(t, "jwt-key-file") && !s.given(t, "jwt-public-key-file") && !s.given(t, "jwt-jwks-file") {
						t.Error("--auth=jwt without --jwt-key-file, --jwt-public-key-file or --jwt-jwks-file")
					}
				case !s.isTrue(t, "allow-anonymous"):
					t.Errorf("--http-addr=%s reaches beyond loopback with --auth=%s and no --allow-anonymous: jetsse refuses to start", httpAddr, auth)
				}
			}
			if admin, _ := s.get(t, "admin-addr"); admin != "" && !loopback(admin) {
				if _, from := s.get(t, "admin-token"); from != "env" {
					t.Errorf("--admin-addr=%s beyond loopback: give every node the same admin token through %s (from a secret), not one generated per node", admin, app.EnvVar("admin-token"))
				}
			}
			if s.given(t, "nats-url") {
				creds := s.given(t, "nats-creds")
				userPass := s.given(t, "nats-user") && s.given(t, "nats-password")
				if !creds && !userPass {
					t.Errorf("--nats-url without --nats-creds or --nats-user and --nats-password: the cluster's credentials are missing")
				}
			} else if natsAddr, _ := s.get(t, "nats-addr"); natsAddr != "" && !loopback(natsAddr) {
				t.Errorf("the embedded NATS server listens on %s beyond loopback", natsAddr)
			}
			for _, secret := range []string{"publish-token", "admin-token", "nats-password"} {
				if _, ok := args.flag(secret); ok {
					t.Errorf("--%s on the command line: pass it as %s from a secret", secret, app.EnvVar(secret))
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("found no jetsse serve invocation")
	}
}

// healthReaches reports whether `jetsse <hc>` checks the public /readyz of
// `jetsse <serve>` in the same container.
func healthReaches(t testing.TB, hc, serve cmdline) error {
	t.Helper()
	raw := hc.value(t, "url")
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--url %q: %v", raw, err)
	}
	httpAddr := serve.value(t, "http-addr")
	host, p, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return fmt.Errorf("--http-addr %q: %v", httpAddr, err)
	}
	switch {
	case u.Path != "/readyz":
		return fmt.Errorf("--url %s: want the edge's /readyz", raw)
	case u.Port() != p:
		return fmt.Errorf("--url %s: serve listens on port %s (--http-addr %s)", raw, p, httpAddr)
	case host != "" && host != "0.0.0.0" && host != "::" && u.Hostname() != host:
		return fmt.Errorf("--url %s: serve listens on %s only", raw, host)
	case (u.Scheme == "https") != serve.hasTLS():
		return fmt.Errorf("--url %s: serve speaks %s", raw, map[bool]string{true: "HTTPS (--tls-cert)", false: "plain HTTP"}[serve.hasTLS()])
	}
	return nil
}

func (c cmdline) hasTLS() bool {
	_, ok := c.flag("tls-cert")
	return ok
}

// sortedKeys is for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
