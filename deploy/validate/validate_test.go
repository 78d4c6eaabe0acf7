// Package validate checks the deployment files of the repository (the
// Dockerfile, docker-compose.yml and what it mounts from deploy/, the
// Kubernetes manifests and the Helm values, the Grafana dashboard) by
// parsing each with the library of its own ecosystem and checking how the
// pieces are wired to each other and to the jetsse command line, which it
// runs in-process through the replace directive in go.mod.
//
// It is a module of its own so the product's go.mod does not carry
// Kubernetes and Compose. Run it with `cd deploy/validate && go test ./...`.
package validate

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The uid and gid the image runs as (distroless "nonroot").
const (
	imageUID = 65532
	imageGID = 65532
)

// shutdownMargin is what jetsse needs after --drain-timeout before it has
// exited: the drain's own 5s grace, the HTTP server's 5s shutdown, then
// recording positions and closing NATS.
const shutdownMargin = 10 * time.Second

// repoRoot is the repository root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func readFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cmdline is a jetsse invocation: the arguments after the binary.
type cmdline []string

// subcommand is the first argument when it is not a flag.
func (c cmdline) subcommand() string {
	if len(c) > 0 && !strings.HasPrefix(c[0], "-") {
		return c[0]
	}
	return ""
}

// flagNames lists the names of the flags given, without dashes or values.
func (c cmdline) flagNames() []string {
	var names []string
	for _, a := range c {
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		names = append(names, name)
	}
	return names
}

// flag returns the value of --name, given as --name=value or --name value
// (one or two leading dashes), and whether it is there.
func (c cmdline) flag(name string) (string, bool) {
	for i, a := range c {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		n, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if n != name {
			continue
		}
		if hasValue {
			return v, true
		}
		if i+1 < len(c) && !strings.HasPrefix(c[i+1], "-") {
			return c[i+1], true
		}
		return "", true
	}
	return "", false
}

// port returns the port of a host:port listen address such as ":8080".
func port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return n
}

// durationOf parses a --drain-timeout style value.
func durationOf(t testing.TB, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

// cidrs parses a comma-separated --trusted-proxy value.
func cidrs(t testing.TB, s string) []*net.IPNet {
	t.Helper()
	var out []*net.IPNet
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			t.Errorf("--trusted-proxy %q: %v", part, err)
			continue
		}
		out = append(out, n)
	}
	return out
}

// covers reports whether one of the networks contains all of sub.
func covers(nets []*net.IPNet, sub *net.IPNet) bool {
	subOnes, subBits := sub.Mask.Size()
	for _, n := range nets {
		ones, bits := n.Mask.Size()
		if bits == subBits && ones <= subOnes && n.Contains(sub.IP) {
			return true
		}
	}
	return false
}

// pinned reports whether an image reference names a fixed version: a tag
// other than latest, or a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(image, "/")
	_, tag, ok := strings.Cut(image[slash+1:], ":")
	return ok && tag != "" && tag != "latest"
}
