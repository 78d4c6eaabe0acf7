package validate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jetsse/jetsse/cmd/jetsse/app"
)

// use is one jetsse invocation found in a deployment file.
type use struct {
	where string   // "docker-compose.yml service edge-1", ...
	args  cmdline  // after the binary; a subcommand first
	env   []string // JETSSE_* variables set for it
}

// defaultSubcommand is what a container runs when only environment
// variables are known (the image's CMD starts with serve).
const defaultSubcommand = "serve"

// jetsseHelp runs the real command in-process, as the binary's main does,
// and returns what it printed.
func jetsseHelp(t testing.TB, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	err := app.Run(context.Background(), args, app.Options{Stdout: &out, Stderr: &out})
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("jetsse %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

var (
	subcommandLine = regexp.MustCompile(`^  ([a-z][a-z0-9-]*)\s`)
	flagLine       = regexp.MustCompile(`^  -([a-zA-Z0-9][a-zA-Z0-9._-]*)(?:[ =\t]|$)`)
)

// jetsseSubcommands lists the subcommands `jetsse -h` prints.
func jetsseSubcommands(t testing.TB) map[string]bool {
	t.Helper()
	out := jetsseHelp(t, "-h")
	subs := map[string]bool{}
	in := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "SUBCOMMANDS":
			in = true
		case in && line == "":
			in = false
		case in:
			if m := subcommandLine.FindStringSubmatch(line); m != nil {
				subs[m[1]] = true
			}
		}
	}
	if !subs["serve"] {
		t.Fatalf("`jetsse -h` lists no serve subcommand; its output changed?\n%s", out)
	}
	return subs
}

// jetsseFlags lists the flags `jetsse <sub> -h` prints.
func jetsseFlags(t testing.TB, sub string) map[string]bool {
	t.Helper()
	out := jetsseHelp(t, sub, "-h")
	flags := map[string]bool{}
	in := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "FLAGS":
			in = true
		case in && line == "":
			in = false
		case in:
			if m := flagLine.FindStringSubmatch(line); m != nil {
				flags[m[1]] = true
			}
		}
	}
	return flags
}

func TestJetsseCLIIntrospection(t *testing.T) {
	flags := jetsseFlags(t, "serve")
	for _, f := range []string{"http-addr", "nats-url", "data-dir", "drain-timeout", "session-key-file", "lite"} {
		if !flags[f] {
			t.Errorf("`jetsse serve -h` parsed without --%s: the usage format changed and this test no longer reads it", f)
		}
	}
}

// TestJetsseCommandLine checks that every flag, environment variable and
// subcommand the deployment files give jetsse exists in the real binary.
func TestJetsseCommandLine(t *testing.T) {
	var uses []use
	uses = append(uses, dockerfileUses(t)...)
	uses = append(uses, composeUses(t)...)
	uses = append(uses, kubernetesUses(t)...)
	if len(uses) == 0 {
		t.Fatal("found no jetsse invocation in the deployment files")
	}

	subs := jetsseSubcommands(t)
	flagsOf := map[string]map[string]bool{}
	missing := map[string][]string{} // "flag --x of serve" -> where
	add := func(what, where string) {
		if !slices.Contains(missing[what], where) {
			missing[what] = append(missing[what], where)
		}
	}
	checkFlag := func(sub, name, where string) {
		if !subs[sub] {
			return // reported as a missing subcommand
		}
		if flagsOf[sub] == nil {
			flagsOf[sub] = jetsseFlags(t, sub)
		}
		if !flagsOf[sub][name] {
			add(fmt.Sprintf("flag --%s (jetsse %s)", name, sub), where)
		}
	}
	for _, u := range uses {
		sub := u.args.subcommand()
		if sub == "" {
			sub = defaultSubcommand
		}
		if !subs[sub] {
			add(fmt.Sprintf("subcommand %q", sub), u.where)
		}
		for _, name := range u.args.flagNames() {
			checkFlag(sub, name, u.where)
		}
		for _, env := range u.env {
			name, ok := envFlag(env)
			if !ok {
				continue
			}
			// Environment variables reach every subcommand the container
			// runs; they are meant for the server.
			checkFlag(defaultSubcommand, name, u.where+" env "+env)
		}
	}
	if len(missing) == 0 {
		return
	}
	keys := make([]string, 0, len(missing))
	for k := range missing {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "jetsse flags/subcommands used by the deployment files that github.com/jetsse/jetsse/cmd/jetsse/app does not have:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  MISSING %s\n      used in: %s\n", k, strings.Join(missing[k], "; "))
	}
	fmt.Fprintf(&b, "%d missing: %s", len(keys), strings.Join(keys, ", "))
	t.Error(b.String())
}
