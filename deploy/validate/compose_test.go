package validate

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
	"sigs.k8s.io/yaml"
)

// composeEnv is what the .env recipe in docker-compose.yml's header writes:
// secrets of letters and digits starting with a letter.
var composeEnv = map[string]string{
	"JETSSE_PUBLISH_TOKEN":   "p0c1a2f3publishtoken",
	"JETSSE_ADMIN_TOKEN":     "p9e8d7admintoken",
	"NATS_EDGE_PASSWORD":     "p4b2e0f19a7c3d5e6f708192a3b4c5d6",
	"NATS_BOX_PASSWORD":      "p0123456789abcdef0123456789abcdef",
	"GRAFANA_ADMIN_PASSWORD": "p5grafana",
}

func loadCompose(t testing.TB, env map[string]string) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(list))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// composeStack is docker-compose.yml loaded by compose-go, its services
// sorted by role.
type composeStack struct {
	p          *types.Project
	root       string
	edges      []types.ServiceConfig // built from this repository
	nats       []types.ServiceConfig
	lb         types.ServiceConfig
	natsBox    types.ServiceConfig
	exporters  []types.ServiceConfig
	prometheus types.ServiceConfig
	grafana    types.ServiceConfig
}

func loadStack(t testing.TB) composeStack {
	t.Helper()
	p, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	s := composeStack{p: p, root: repoRoot(t)}
	var lbs, boxes, proms, grafanas []types.ServiceConfig
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	}) {
		svc := p.Services[name]
		switch {
		case svc.Build != nil && filepath.Clean(svc.Build.Context) == s.root:
			s.edges = append(s.edges, svc)
		case strings.HasPrefix(svc.Image, "nats:"):
			s.nats = append(s.nats, svc)
		case strings.HasPrefix(svc.Image, "nginx:"):
			lbs = append(lbs, svc)
		case strings.HasPrefix(svc.Image, "natsio/nats-box:"):
			boxes = append(boxes, svc)
		case strings.HasPrefix(svc.Image, "natsio/prometheus-nats-exporter:"):
			s.exporters = append(s.exporters, svc)
		case strings.HasPrefix(svc.Image, "prom/prometheus:"):
			proms = append(proms, svc)
		case strings.HasPrefix(svc.Image, "grafana/grafana:"):
			grafanas = append(grafanas, svc)
		}
	}
	one := func(what string, list []types.ServiceConfig) types.ServiceConfig {
		if len(list) != 1 {
			t.Fatalf("docker-compose.yml: %d %s services, want 1", len(list), what)
		}
		return list[0]
	}
	s.lb, s.natsBox = one("nginx", lbs), one("nats-box", boxes)
	s.prometheus, s.grafana = one("prometheus", proms), one("grafana", grafanas)
	if len(s.edges) != 2 {
		t.Fatalf("docker-compose.yml: %d jetsse edges (built from the repository), want 2", len(s.edges))
	}
	if len(s.nats) != 3 {
		t.Fatalf("docker-compose.yml: %d NATS servers, want 3", len(s.nats))
	}
	return s
}

func names(svcs []types.ServiceConfig) []string {
	var out []string
	for _, s := range svcs {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// mountOf returns the service's mount whose target is target.
func mountOf(svc types.ServiceConfig, target string) (types.ServiceVolumeConfig, bool) {
	for _, v := range svc.Volumes {
		if path.Clean(v.Target) == path.Clean(target) {
			return v, true
		}
	}
	return types.ServiceVolumeConfig{}, false
}

// mountFor returns the service's mount that holds the container path p,
// and p's path inside it.
func mountFor(svc types.ServiceConfig, p string) (types.ServiceVolumeConfig, string, bool) {
	var best types.ServiceVolumeConfig
	rel, found := "", false
	for _, v := range svc.Volumes {
		t := path.Clean(v.Target)
		if p == t || strings.HasPrefix(p, t+"/") {
			if !found || len(t) > len(best.Target) {
				best, rel, found = v, strings.TrimPrefix(strings.TrimPrefix(p, t), "/"), true
			}
		}
	}
	return best, rel, found
}

// bindsFile reports whether the service mounts the repository file rel at
// target.
func (s composeStack) bindsFile(t testing.TB, svc types.ServiceConfig, rel, target string) {
	t.Helper()
	m, ok := mountOf(svc, target)
	if !ok {
		t.Errorf("service %s does not mount %s at %s", svc.Name, rel, target)
		return
	}
	if m.Type != types.VolumeTypeBind || filepath.Clean(m.Source) != filepath.Join(s.root, rel) {
		t.Errorf("service %s mounts %s at %s, want the repository's %s", svc.Name, m.Source, target, rel)
	}
	if !m.ReadOnly {
		t.Errorf("service %s mounts %s writable; mount configuration read-only", svc.Name, rel)
	}
}

func env(svc types.ServiceConfig, key string) string {
	if v, ok := svc.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}

func shareNetwork(a, b types.ServiceConfig) bool {
	for n := range a.Networks {
		if _, ok := b.Networks[n]; ok {
			return true
		}
	}
	return false
}

// composeUses returns the jetsse invocations of docker-compose.yml.
func composeUses(t testing.TB) []use {
	s := loadStack(t)
	var uses []use
	for _, e := range s.edges {
		envs := map[string]*string{}
		for k, v := range e.Environment {
			if strings.HasPrefix(k, "JETSSE_") {
				envs[k] = v
			}
		}
		where := "docker-compose.yml " + e.Name
		uses = append(uses, use{where: where, args: cmdline(e.Command), env: envs})
		if e.HealthCheck != nil {
			if args, ok := execArgs(e.HealthCheck.Test, ""); ok {
				uses = append(uses, use{where: where + " healthcheck", args: args})
			}
		}
	}
	return uses
}

// natsServer is one NATS service's configuration as the server reads it,
// with the service's environment.
type natsServer struct {
	svc  types.ServiceConfig
	raw  map[string]any
	opts *server.Options
}

func (s composeStack) natsServers(t *testing.T) []natsServer {
	t.Helper()
	var out []natsServer
	for _, svc := range s.nats {
		var confPath string
		for i, a := range svc.Command {
			if (a == "-c" || a == "--config") && i+1 < len(svc.Command) {
				confPath = svc.Command[i+1]
			}
		}
		if confPath == "" {
			t.Fatalf("NATS service %s: no -c <config> in its command %v", svc.Name, svc.Command)
		}
		m, ok := mountOf(svc, confPath)
		if !ok || m.Type != types.VolumeTypeBind {
			t.Fatalf("NATS service %s: %s is not mounted from the repository", svc.Name, confPath)
		}
		// NATS config variables come from the container's environment.
		for k, v := range svc.Environment {
			if v != nil {
				t.Setenv(k, *v)
			}
		}
		raw, err := conf.ParseFileWithChecks(m.Source)
		if err != nil {
			t.Fatalf("NATS service %s: %s: %v", svc.Name, m.Source, err)
		}
		opts, err := server.ProcessConfigFile(m.Source)
		if err != nil {
			t.Fatalf("NATS service %s: %s: %v", svc.Name, m.Source, err)
		}
		// The server's own validation of the options (it starts nothing).
		check := opts.Clone()
		check.StoreDir = t.TempDir()
		ns, err := server.NewServer(check)
		if err != nil {
			t.Fatalf("NATS service %s: the server refuses %s: %v", svc.Name, m.Source, err)
		}
		ns.Shutdown()
		out = append(out, natsServer{svc: svc, raw: raw, opts: opts})
	}
	return out
}

func (n natsServer) hasUser(user, password string) bool {
	for _, u := range n.opts.Users {
		if u.Username == user && u.Password == password {
			return true
		}
	}
	return false
}

func TestComposeRequiresSecrets(t *testing.T) {
	for name := range composeEnv {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range composeEnv {
				if k != name {
					env[k] = v
				}
			}
			_, err := loadCompose(t, env)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("docker-compose.yml loads without %s (err %v): secrets must be required, never defaulted", name, err)
			}
		})
	}
}

func TestComposeNATS(t *testing.T) {
	s := loadStack(t)
	servers := s.natsServers(t)
	natsNames := names(s.nats)

	// server.VERSION comes from the nats-server this module builds with;
	// it must be the one the product's go.mod embeds.
	m := regexp.MustCompile(`(?m)^\s*github\.com/nats-io/nats-server/v2 v(\S+)`).FindStringSubmatch(readFile(t, "go.mod"))
	if m == nil || m[1] != server.VERSION {
		t.Fatalf("the product's go.mod requires nats-server %v, this module builds with %s: run go mod tidy in deploy/validate", m, server.VERSION)
	}

	for _, n := range servers {
		svc, o := n.svc, n.opts
		t.Run(svc.Name, func(t *testing.T) {
			want := "nats:" + server.VERSION + "-"
			if !strings.HasPrefix(svc.Image, want) {
				t.Errorf("image %s, want %s… (the nats-server jetsse embeds)", svc.Image, want)
			}
			if len(svc.Ports) != 0 {
				t.Errorf("publishes %v; NATS must not be reachable from the host", svc.Ports)
			}
			if o.ServerName != svc.Name {
				t.Errorf("server_name %q, want the service name %q", o.ServerName, svc.Name)
			}
			if _, ok := n.raw["authorization"]; !ok {
				t.Error("nats.conf has no authorization block")
			}
			if len(o.Users) == 0 || o.NoAuthUser != "" {
				t.Errorf("clients are not required to log in (users %d, no_auth_user %q)", len(o.Users), o.NoAuthUser)
			}
			for _, u := range o.Users {
				if u.Password == "" || strings.HasPrefix(u.Password, "$") {
					t.Errorf("user %s has password %q: the config variable did not resolve", u.Username, u.Password)
				}
			}
			if !o.JetStream {
				t.Error("JetStream is off")
			}
			if m, _, ok := mountFor(svc, o.StoreDir); !ok || m.Type != types.VolumeTypeVolume {
				t.Errorf("JetStream store_dir %s is not on a named volume", o.StoreDir)
			}
			if o.Cluster.Port == 0 {
				t.Fatal("no cluster listener")
			}
			var routed []string
			for _, r := range o.Routes {
				if r.Port() != strconv.Itoa(o.Cluster.Port) {
					t.Errorf("route %s is not on the cluster port %d", r, o.Cluster.Port)
				}
				routed = append(routed, r.Hostname())
			}
			sort.Strings(routed)
			if !slices.Equal(routed, natsNames) {
				t.Errorf("routes to %v, want every NATS service %v", routed, natsNames)
			}
			if o.HTTPPort == 0 {
				t.Error("no monitoring port (the health check and the exporters use it)")
			}
		})
	}

	t.Run("one cluster", func(t *testing.T) {
		for _, n := range servers[1:] {
			if n.opts.Cluster.Name != servers[0].opts.Cluster.Name {
				t.Errorf("%s is in cluster %q, %s in %q", n.svc.Name, n.opts.Cluster.Name, servers[0].svc.Name, servers[0].opts.Cluster.Name)
			}
		}
	})

	t.Run("nats-box", func(t *testing.T) {
		box := s.natsBox
		if !pinned(box.Image) {
			t.Errorf("nats-box image %s is not pinned", box.Image)
		}
		hosts := natsURLHosts(t, env(box, "NATS_URL"), servers[0].opts.Port)
		if !slices.Equal(hosts, natsNames) {
			t.Errorf("nats-box NATS_URL names %v, want %v", hosts, natsNames)
		}
		for _, n := range servers {
			if !n.hasUser(env(box, "NATS_USER"), env(box, "NATS_PASSWORD")) {
				t.Errorf("nats-box's NATS_USER/NATS_PASSWORD is not a user of %s", n.svc.Name)
			}
			if !shareNetwork(box, n.svc) {
				t.Errorf("nats-box and %s share no network", n.svc.Name)
			}
		}
	})
}

// natsURLHosts checks a comma-separated list of nats:// URLs on the client
// port and returns their host names, sorted.
func natsURLHosts(t *testing.T, list string, clientPort int) []string {
	t.Helper()
	var hosts []string
	for _, u := range strings.Split(list, ",") {
		parsed, err := url.Parse(strings.TrimSpace(u))
		if err != nil || parsed.Scheme != "nats" {
			t.Errorf("NATS URL %q: want nats://host:port (%v)", u, err)
			continue
		}
		if parsed.User != nil {
			t.Errorf("NATS URL %q carries credentials; pass them in the environment", u)
		}
		if parsed.Port() != strconv.Itoa(clientPort) {
			t.Errorf("NATS URL %q is not on the client port %d", u, clientPort)
		}
		hosts = append(hosts, parsed.Hostname())
	}
	sort.Strings(hosts)
	return hosts
}

func TestComposeEdges(t *testing.T) {
	s := loadStack(t)
	servers := s.natsServers(t)
	natsNames := names(s.nats)
	first := s.edges[0]

	for _, e := range s.edges {
		t.Run(e.Name, func(t *testing.T) {
			args := cmdline(e.Command)
			if args.subcommand() != "serve" {
				t.Fatalf("command %v does not start with serve", args)
			}
			if e.Entrypoint != nil {
				t.Errorf("entrypoint %v overrides the image's jetsse", e.Entrypoint)
			}
			if e.Image == "" || e.Image != first.Image {
				t.Errorf("image %q: name the built image, the same for every edge (%q)", e.Image, first.Image)
			}
			if !slices.Equal(e.Command, first.Command) {
				t.Errorf("command differs from %s's", first.Name)
			}
			for _, k := range []string{"JETSSE_PUBLISH_TOKEN", "JETSSE_ADMIN_TOKEN", "JETSSE_NATS_USER", "JETSSE_NATS_PASSWORD"} {
				if env(e, k) == "" || env(e, k) != env(first, k) {
					t.Errorf("%s is empty or differs between edges", k)
				}
			}

			natsURL, _ := args.flag("nats-url")
			if hosts := natsURLHosts(t, natsURL, servers[0].opts.Port); !slices.Equal(hosts, natsNames) {
				t.Errorf("--nats-url names %v, want every NATS service %v", hosts, natsNames)
			}
			for _, n := range servers {
				if !n.hasUser(env(e, "JETSSE_NATS_USER"), env(e, "JETSSE_NATS_PASSWORD")) {
					t.Errorf("JETSSE_NATS_USER/JETSSE_NATS_PASSWORD is not a user of %s", n.svc.Name)
				}
				if !shareNetwork(e, n.svc) {
					t.Errorf("shares no network with %s", n.svc.Name)
				}
			}
			if r, _ := args.flag("replicas"); r != strconv.Itoa(len(s.nats)) {
				t.Errorf("--replicas=%s, want %d (one per NATS server)", r, len(s.nats))
			}

			admin, ok := args.flag("admin-addr")
			if host, _, err := net.SplitHostPort(admin); !ok || err != nil || host != "0.0.0.0" || port(t, admin) != 9090 {
				t.Errorf("--admin-addr=%q, want 0.0.0.0:9090 (reachable by Prometheus on the compose network)", admin)
			}
			if len(e.Ports) != 0 {
				t.Errorf("publishes %v; neither the public nor the admin port of an edge goes to the host", e.Ports)
			}

			tp, ok := args.flag("trusted-proxy")
			if !ok {
				t.Error("no --trusted-proxy: forwarding headers from the load balancer would be ignored")
			}
			trusted := cidrs(t, tp)
			for netName := range s.lb.Networks {
				nw := s.p.Networks[netName]
				if len(nw.Ipam.Config) == 0 {
					t.Errorf("network %s of the load balancer declares no subnet, so --trusted-proxy cannot name it", netName)
				}
				for _, pool := range nw.Ipam.Config {
					_, sub, err := net.ParseCIDR(pool.Subnet)
					if err != nil {
						t.Errorf("network %s subnet %q: %v", netName, pool.Subnet, err)
						continue
					}
					if !covers(trusted, sub) {
						t.Errorf("--trusted-proxy=%s does not cover the load balancer's network %s (%s)", tp, netName, sub)
					}
				}
			}

			drain := durationOf(t, args.value(t, "drain-timeout"))
			if e.StopGracePeriod == nil {
				t.Error("no stop_grace_period: Docker kills after 10s, mid-drain")
			} else if grace := time.Duration(*e.StopGracePeriod); grace < drain+shutdownMargin {
				t.Errorf("stop_grace_period %v, want at least --drain-timeout %v + %v", grace, drain, shutdownMargin)
			}

			if e.HealthCheck == nil {
				t.Fatal("no healthcheck")
			}
			hc, ok := execArgs(e.HealthCheck.Test, "")
			if !ok || hc.subcommand() != "health" {
				t.Errorf("healthcheck %v, want [\"CMD\", \"/usr/local/bin/jetsse\", \"health\", …] (no shell in the image)", e.HealthCheck.Test)
			}
			if err := healthReaches(t, hc, args); err != nil {
				t.Errorf("healthcheck: %v", err)
			}

			for _, dep := range natsNames {
				if d, ok := e.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
					t.Errorf("does not wait for %s to be healthy", dep)
				}
			}
		})
	}
}

func TestComposeSessionKey(t *testing.T) {
	s := loadStack(t)
	keyFile, ok := cmdline(s.edges[0].Command).flag("session-key-file")
	if !ok {
		t.Fatal("edges have no --session-key-file: each would generate its own key and reject the others' tokens")
	}
	var keyVolume string
	for _, e := range s.edges {
		m, _, ok := mountFor(e, keyFile)
		if !ok || m.Type != types.VolumeTypeVolume {
			t.Fatalf("%s: %s is not on a named volume", e.Name, keyFile)
		}
		if !m.ReadOnly {
			t.Errorf("%s mounts the key volume writable", e.Name)
		}
		if keyVolume != "" && m.Source != keyVolume {
			t.Errorf("%s reads the key from volume %s, others from %s", e.Name, m.Source, keyVolume)
		}
		keyVolume = m.Source
	}
	_, rel, _ := mountFor(s.edges[0], keyFile)

	var keygen *types.ServiceConfig
	for _, svc := range s.p.Services {
		if slices.ContainsFunc(s.edges, func(e types.ServiceConfig) bool { return e.Name == svc.Name }) {
			continue
		}
		for _, m := range svc.Volumes {
			if m.Type == types.VolumeTypeVolume && m.Source == keyVolume && !m.ReadOnly {
				keygen = &svc
			}
		}
	}
	if keygen == nil {
		t.Fatalf("no service writes the key volume %s", keyVolume)
	}
	var target string
	for _, m := range keygen.Volumes {
		if m.Source == keyVolume {
			target = m.Target
		}
	}
	keyPath := path.Join(target, rel)
	script := strings.Join(keygen.Command, " ")
	q := regexp.QuoteMeta(keyPath)
	if !regexp.MustCompile(`chmod\s+0?600\s+` + q + `(\s|$)`).MatchString(script) {
		t.Errorf("%s does not chmod 0600 %s: jetsse refuses key files others can read", keygen.Name, keyPath)
	}
	if !regexp.MustCompile(fmt.Sprintf(`chown\s+%d(:%d)?\s+`, imageUID, imageGID) + q + `(\s|$)`).MatchString(script) {
		t.Errorf("%s does not chown %s to %d, the uid the edges run as", keygen.Name, keyPath, imageUID)
	}
	if !regexp.MustCompile(`umask\s+0?077`).MatchString(script) {
		t.Errorf("%s does not set umask 077 before writing the key", keygen.Name)
	}
	if !pinned(keygen.Image) {
		t.Errorf("%s image %s is not pinned", keygen.Name, keygen.Image)
	}
	for _, e := range s.edges {
		if d, ok := e.DependsOn[keygen.Name]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s does not wait for %s to complete", e.Name, keygen.Name)
		}
	}
}

func TestComposeLoadBalancer(t *testing.T) {
	s := loadStack(t)
	lb := s.lb
	const confTarget = "/etc/nginx/nginx.conf"
	s.bindsFile(t, lb, "deploy/nginx/nginx.conf", confTarget)
	if !pinned(lb.Image) {
		t.Errorf("load balancer image %s is not pinned", lb.Image)
	}
	if len(lb.Ports) != 1 || lb.Ports[0].Published != "8080" {
		t.Fatalf("load balancer publishes %v, want host port 8080 only", lb.Ports)
	}
	for _, e := range s.edges {
		if !shareNetwork(lb, e) {
			t.Errorf("load balancer and %s share no network", e.Name)
		}
	}

	top, err := parseNginx(readFile(t, "deploy/nginx/nginx.conf"))
	if err != nil {
		t.Fatalf("nginx.conf: %v", err)
	}
	https := ngxAll(top, "http")
	if len(https) != 1 {
		t.Fatalf("nginx.conf: %d http blocks", len(https))
	}
	httpBlock := https[0]
	servers := ngxAll(httpBlock.block, "server")
	if len(servers) != 1 {
		t.Fatalf("nginx.conf: %d server blocks, want 1", len(servers))
	}
	srv := servers[0]
	if l := ngxAll(srv.block, "listen"); len(l) != 1 || l[0].args[0] != strconv.Itoa(int(lb.Ports[0].Target)) {
		t.Errorf("nginx listens on %v, compose publishes container port %d", l, lb.Ports[0].Target)
	}

	// The upstreams are the edges' public ports, never their admin ports.
	var wantUpstream []string
	var heartbeat time.Duration
	for _, e := range s.edges {
		args := cmdline(e.Command)
		wantUpstream = append(wantUpstream, fmt.Sprintf("%s:%d", e.Name, port(t, args.value(t, "http-addr"))))
		heartbeat = max(heartbeat, durationOf(t, args.value(t, "heartbeat")))
	}
	upstreams := map[string][]string{}
	for _, u := range ngxAll(httpBlock.block, "upstream") {
		var servers []string
		for _, sv := range ngxAll(u.block, "server") {
			servers = append(servers, sv.args[0])
		}
		sort.Strings(servers)
		upstreams[u.args[0]] = servers
	}

	scopes := func(loc *ngxDirective) ngxScopes {
		return ngxScopes{loc.block, srv.block, httpBlock.block}
	}
	proxied := func(p string) (string, *ngxDirective) {
		t.Helper()
		loc, err := locationFor(srv, p)
		if err != nil {
			t.Fatalf("nginx.conf: %v", err)
		}
		pp, ok := scopes(loc).value("proxy_pass")
		if !ok || len(ngxAll(loc.block, "proxy_pass")) == 0 {
			return "", loc
		}
		return pp[0], loc
	}

	for _, p := range []string{"/events", "/publish", "/readyz", "/"} {
		target, _ := proxied(p)
		name, ok := strings.CutPrefix(target, "http://")
		if !ok {
			t.Errorf("%s is proxied to %q, want http://<upstream>", p, target)
			continue
		}
		if got := upstreams[name]; !slices.Equal(got, wantUpstream) {
			t.Errorf("%s goes to upstream %q with servers %v, want the edges' public ports %v", p, name, got, wantUpstream)
		}
	}

	// The SSE stream.
	_, loc := proxied("/events")
	sc := scopes(loc)
	if v, _ := sc.value("proxy_buffering"); !slices.Equal(v, []string{"off"}) {
		t.Errorf("/events: proxy_buffering %v, want off", v)
	}
	if v, _ := sc.value("proxy_http_version"); !slices.Equal(v, []string{"1.1"}) {
		t.Errorf("/events: proxy_http_version %v, want 1.1", v)
	}
	if v, ok := sc.value("proxy_read_timeout"); !ok {
		t.Error("/events: no proxy_read_timeout (nginx's 60s default)")
	} else if d, err := ngxDuration(v[0]); err != nil || d <= heartbeat {
		t.Errorf("/events: proxy_read_timeout %s, want more than the heartbeat %v", v[0], heartbeat)
	}
	headers := map[string]string{}
	for _, h := range sc.array("proxy_set_header") {
		if len(h) == 2 {
			headers[strings.ToLower(h[0])] = h[1]
		}
	}
	if headers["x-forwarded-for"] != "$proxy_add_x_forwarded_for" {
		t.Errorf("/events: X-Forwarded-For is %q, want $proxy_add_x_forwarded_for", headers["x-forwarded-for"])
	}
	if headers["x-forwarded-proto"] != "$scheme" {
		t.Errorf("/events: X-Forwarded-Proto is %q, want $scheme", headers["x-forwarded-proto"])
	}

	// /metrics is not routed.
	if target, loc := proxied("/metrics"); target != "" || len(ngxAll(loc.block, "return")) == 0 {
		t.Errorf("/metrics is served by location %v (proxy_pass %q); answer it in nginx instead", loc.args, target)
	}
	// Nothing points at an admin port.
	var walk func([]*ngxDirective)
	walk = func(ds []*ngxDirective) {
		for _, d := range ds {
			if d.name == "proxy_pass" || d.name == "server" {
				for _, a := range d.args {
					if strings.Contains(a, ":9090") {
						t.Errorf("nginx.conf line %d: %s %v reaches an admin listener", d.line, d.name, d.args)
					}
				}
			}
			walk(d.block)
		}
	}
	walk(top)
}

func TestComposeMonitoring(t *testing.T) {
	s := loadStack(t)
	servers := s.natsServers(t)

	t.Run("prometheus", func(t *testing.T) {
		prom := s.prometheus
		if !pinned(prom.Image) {
			t.Errorf("image %s is not pinned", prom.Image)
		}
		s.bindsFile(t, prom, "deploy/prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml")
		var cfg struct {
			ScrapeConfigs []struct {
				JobName       string `json:"job_name"`
				MetricsPath   string `json:"metrics_path"`
				Scheme        string `json:"scheme"`
				StaticConfigs []struct {
					Targets []string `json:"targets"`
				} `json:"static_configs"`
			} `json:"scrape_configs"`
		}
		if err := yaml.Unmarshal([]byte(readFile(t, "deploy/prometheus/prometheus.yml")), &cfg); err != nil {
			t.Fatalf("prometheus.yml: %v", err)
		}
		targets := map[string]string{} // target -> metrics path
		for _, sc := range cfg.ScrapeConfigs {
			mp := sc.MetricsPath
			if mp == "" {
				mp = "/metrics"
			}
			for _, st := range sc.StaticConfigs {
				for _, tg := range st.Targets {
					targets[tg] = mp
				}
			}
		}
		for _, e := range s.edges {
			admin := cmdline(e.Command).value(t, "admin-addr")
			want := fmt.Sprintf("%s:%d", e.Name, port(t, admin))
			if mp, ok := targets[want]; !ok || mp != "/metrics" {
				t.Errorf("prometheus.yml does not scrape %s/metrics (the admin listener of %s)", want, e.Name)
			}
			if !shareNetwork(prom, e) {
				t.Errorf("prometheus and %s share no network", e.Name)
			}
		}
		// Each NATS server's monitoring endpoint, through an exporter.
		watched := map[string]bool{}
		for _, x := range s.exporters {
			if !pinned(x.Image) {
				t.Errorf("%s image %s is not pinned", x.Name, x.Image)
			}
			if len(x.Command) == 0 {
				t.Errorf("%s has no command", x.Name)
				continue
			}
			u, err := url.Parse(x.Command[len(x.Command)-1])
			if err != nil || u.Scheme != "http" {
				t.Errorf("%s: last argument %q is not the monitoring URL", x.Name, x.Command[len(x.Command)-1])
				continue
			}
			for _, n := range servers {
				if n.svc.Name == u.Hostname() && u.Port() == strconv.Itoa(n.opts.HTTPPort) {
					watched[n.svc.Name] = true
					if !shareNetwork(x, n.svc) {
						t.Errorf("%s and %s share no network", x.Name, n.svc.Name)
					}
				}
			}
			if _, ok := targets[x.Name+":7777"]; !ok {
				t.Errorf("prometheus.yml does not scrape %s:7777", x.Name)
			}
			if !shareNetwork(prom, x) {
				t.Errorf("prometheus and %s share no network", x.Name)
			}
		}
		for _, n := range servers {
			if !watched[n.svc.Name] {
				t.Errorf("no exporter reads the monitoring endpoint of %s (:%d)", n.svc.Name, n.opts.HTTPPort)
			}
		}
	})

	t.Run("grafana", func(t *testing.T) {
		g := s.grafana
		if !pinned(g.Image) {
			t.Errorf("image %s is not pinned", g.Image)
		}
		prov, ok := mountOf(g, "/etc/grafana/provisioning")
		if !ok || filepath.Clean(prov.Source) != filepath.Join(s.root, "deploy/grafana/provisioning") {
			t.Fatalf("grafana does not mount deploy/grafana/provisioning at /etc/grafana/provisioning")
		}
		if !shareNetwork(g, s.prometheus) {
			t.Error("grafana and prometheus share no network")
		}
		var ds struct {
			Datasources []struct {
				Name, Type, URL, UID string
			} `json:"datasources"`
		}
		files, _ := filepath.Glob(filepath.Join(prov.Source, "datasources", "*.y*ml"))
		foundDS := false
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if err := yaml.Unmarshal(b, &ds); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, d := range ds.Datasources {
				if d.Type == "prometheus" && d.URL == "http://"+s.prometheus.Name+":9090" {
					foundDS = true
				}
			}
		}
		if !foundDS {
			t.Errorf("no provisioned prometheus datasource points at http://%s:9090", s.prometheus.Name)
		}

		var dp struct {
			Providers []struct {
				Type    string `json:"type"`
				Options struct {
					Path string `json:"path"`
				} `json:"options"`
			} `json:"providers"`
		}
		files, _ = filepath.Glob(filepath.Join(prov.Source, "dashboards", "*.y*ml"))
		loaded := false
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if err := yaml.Unmarshal(b, &dp); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, p := range dp.Providers {
				for _, m := range g.Volumes {
					if p.Type == "file" && filepath.Clean(m.Source) == filepath.Join(s.root, "deploy/grafana/jetsse-dashboard.json") &&
						strings.HasPrefix(m.Target, path.Clean(p.Options.Path)+"/") {
						loaded = true
					}
				}
			}
		}
		if !loaded {
			t.Error("no dashboard provider's path holds the mounted deploy/grafana/jetsse-dashboard.json")
		}
	})
}

// TestComposePorts: only the load balancer, Grafana and Prometheus (those
// two on loopback) publish ports, and every image but ours is pinned.
func TestComposePorts(t *testing.T) {
	s := loadStack(t)
	for name, svc := range s.p.Services {
		switch name {
		case s.lb.Name:
		case s.grafana.Name, s.prometheus.Name:
			for _, p := range svc.Ports {
				if ip := net.ParseIP(p.HostIP); ip == nil || !ip.IsLoopback() {
					t.Errorf("%s publishes %s:%s; keep it on 127.0.0.1", name, p.HostIP, p.Published)
				}
			}
		default:
			if len(svc.Ports) != 0 {
				t.Errorf("%s publishes %v; only the load balancer, Grafana and Prometheus may", name, svc.Ports)
			}
		}
		if svc.Build == nil && !pinned(svc.Image) {
			t.Errorf("%s image %q is not pinned to a version", name, svc.Image)
		}
	}
}
