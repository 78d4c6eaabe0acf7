package validate

import (
	"bytes"
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// dockerfile is the repository's Dockerfile, parsed by BuildKit's own
// parser into stages and typed instructions.
type dockerfile struct {
	stages   []instructions.Stage
	comments string // the comment lines, for the documented commands
}

func parseDockerfile(t testing.TB) dockerfile {
	t.Helper()
	src := readFile(t, "Dockerfile")
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: parser warning: %s %s", w.Short, bytes.Join(w.Detail, []byte(" ")))
	}
	lint := linter.New(&linter.Config{Warn: func(rule, description, url, msg string, _ []parser.Range) {
		t.Errorf("Dockerfile: lint %s: %s", rule, msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and the final image", len(stages))
	}
	var comments []string
	for _, line := range strings.Split(src, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok {
			comments = append(comments, c)
		}
	}
	return dockerfile{stages: stages, comments: strings.Join(comments, "\n")}
}

func (d dockerfile) final() instructions.Stage { return d.stages[len(d.stages)-1] }

// last returns the final stage's last instruction of type T (the one that
// takes effect), if any.
func last[T instructions.Command](s instructions.Stage) (T, bool) {
	var found T
	ok := false
	for _, c := range s.Commands {
		if v, is := c.(T); is {
			found, ok = v, true
		}
	}
	return found, ok
}

// binary is the path the final stage copies jetsse to.
func (d dockerfile) binary(t testing.TB) string {
	ep, ok := last[*instructions.EntrypointCommand](d.final())
	if !ok || ep.PrependShell || len(ep.CmdLine) != 1 {
		t.Fatalf("Dockerfile: want ENTRYPOINT [\"/path/to/jetsse\"] in exec form, got %+v", ep)
	}
	return ep.CmdLine[0]
}

func (d dockerfile) cmd(t testing.TB) cmdline {
	c, ok := last[*instructions.CmdCommand](d.final())
	if !ok || c.PrependShell {
		t.Fatalf("Dockerfile: want CMD in exec form (no shell in distroless), got %+v", c)
	}
	return cmdline(c.CmdLine)
}

var documentedRun = regexp.MustCompile(`docker run [^\n]*?\bjetsse:[A-Za-z0-9._-]+ ([a-z][a-z0-9-]*)`)

// dockerfileUses returns the jetsse invocations of the Dockerfile: CMD,
// HEALTHCHECK, and the `docker run IMAGE <subcommand>` its comments
// document.
func dockerfileUses(t testing.TB) []use {
	d := parseDockerfile(t)
	bin := d.binary(t)
	uses := []use{{where: "Dockerfile CMD", args: d.cmd(t)}}
	if hc, ok := last[*instructions.HealthCheckCommand](d.final()); ok && hc.Health != nil {
		if args, ok := execArgs(hc.Health.Test, bin); ok {
			uses = append(uses, use{where: "Dockerfile HEALTHCHECK", args: args})
		}
	}
	for _, m := range documentedRun.FindAllStringSubmatch(d.comments, -1) {
		uses = append(uses, use{where: "Dockerfile comment `docker run … " + m[1] + "`", args: cmdline{m[1]}})
	}
	return uses
}

// execArgs returns the arguments after bin in a ["CMD", bin, ...] health
// check test.
func execArgs(test []string, bin string) (cmdline, bool) {
	if len(test) < 2 || test[0] != "CMD" {
		return nil, false
	}
	if test[1] != bin && path.Base(test[1]) != "jetsse" {
		return nil, false
	}
	return cmdline(test[2:]), true
}

func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t)
	build, final := d.stages[0], d.final()

	t.Run("build stage", func(t *testing.T) {
		if !strings.HasPrefix(build.BaseName, "golang:1.26") {
			t.Errorf("build stage FROM %s, want golang:1.26", build.BaseName)
		}
		var goBuild string
		for _, c := range build.Commands {
			if r, ok := c.(*instructions.RunCommand); ok {
				line := strings.Join(r.CmdLine, " ")
				if strings.Contains(line, "go build") {
					goBuild = line
				}
			}
		}
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/jetsse"} {
			if !strings.Contains(goBuild, want) {
				t.Errorf("the go build RUN lacks %s: %q", want, goBuild)
			}
		}
	})

	t.Run("final stage", func(t *testing.T) {
		if final.BaseName != "gcr.io/distroless/static-debian12:nonroot" {
			t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", final.BaseName)
		}
		u, ok := last[*instructions.UserCommand](final)
		if !ok {
			t.Fatal("final stage has no USER")
		}
		uid, gid, _ := strings.Cut(u.User, ":")
		if n, err := strconv.Atoi(uid); err != nil || n != imageUID {
			t.Errorf("USER %s: want the numeric uid %d (Kubernetes' runAsNonRoot rejects user names)", u.User, imageUID)
		}
		if n, err := strconv.Atoi(gid); err != nil || n != imageGID {
			t.Errorf("USER %s: want the numeric group %d too", u.User, imageGID)
		}

		// /data: made in the build stage (no shell in distroless), copied
		// owned by the runtime user, and a volume.
		dataDir, ok := d.cmd(t).flag("data-dir")
		if !ok {
			t.Fatal("CMD has no --data-dir")
		}
		copied := false
		for _, c := range final.Commands {
			cp, ok := c.(*instructions.CopyCommand)
			if !ok || path.Clean(cp.DestPath) != path.Clean(dataDir) {
				continue
			}
			copied = true
			if cp.From == "" {
				t.Errorf("COPY to %s is not from the build stage", dataDir)
			}
			if cp.Chown != fmt.Sprintf("%d:%d", imageUID, imageGID) {
				t.Errorf("COPY to %s has --chown=%q, want %d:%d", dataDir, cp.Chown, imageUID, imageGID)
			}
		}
		if !copied {
			t.Errorf("no COPY --chown=%d:%d creates the data dir %s", imageUID, imageGID, dataDir)
		}
		v, ok := last[*instructions.VolumeCommand](final)
		if !ok || !slices.Contains(v.Volumes, dataDir) {
			t.Errorf("VOLUME %v, want %s", v, dataDir)
		}
	})

	t.Run("entrypoint, command, health check", func(t *testing.T) {
		bin := d.binary(t)
		binCopied := false
		for _, c := range final.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.DestPath == bin {
				binCopied = true
			}
		}
		if !binCopied {
			t.Errorf("ENTRYPOINT %s is not what the final stage copies the binary to", bin)
		}

		cmd := d.cmd(t)
		if cmd.subcommand() != "serve" {
			t.Errorf("CMD %v does not start with serve", cmd)
		}
		httpAddr := cmd.value(t, "http-addr")
		if _, ok := cmd.flag("allow-anonymous"); !ok {
			t.Errorf("CMD %v: --auth none on a non-loopback --http-addr needs --allow-anonymous", cmd)
		}
		// The quick start must not open an unauthenticated NATS port: the
		// embedded server stays in-process or on loopback.
		if natsAddr, ok := cmd.flag("nats-addr"); !ok || natsAddr != "" {
			host, _, err := net.SplitHostPort(natsAddr)
			if err != nil || !net.ParseIP(host).IsLoopback() {
				t.Errorf("CMD --nats-addr=%q: the quick start keeps NATS in-process (--nats-addr=) or on loopback", natsAddr)
			}
		}

		var exposed []int
		for _, c := range final.Commands {
			if e, ok := c.(*instructions.ExposeCommand); ok {
				for _, p := range e.Ports {
					n, _ := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
					exposed = append(exposed, n)
				}
			}
		}
		if !slices.Equal(exposed, []int{port(t, httpAddr)}) {
			t.Errorf("EXPOSE %v, want only the HTTP port %d (no NATS port: the quick start has none)", exposed, port(t, httpAddr))
		}

		hc, ok := last[*instructions.HealthCheckCommand](final)
		if !ok || hc.Health == nil {
			t.Fatal("no HEALTHCHECK")
		}
		args, ok := execArgs(hc.Health.Test, bin)
		if !ok || args.subcommand() != "health" {
			t.Fatalf("HEALTHCHECK %v: want exec form [\"CMD\", %q, \"health\", ...] (no shell in distroless)", hc.Health.Test, bin)
		}
		if err := healthReaches(t, args, cmd); err != nil {
			t.Errorf("HEALTHCHECK: %v", err)
		}
	})
}
