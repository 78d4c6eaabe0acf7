package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const k8sDir = "deploy/kubernetes"

// k8sManifests are the objects of every YAML file in deploy/kubernetes,
// decoded strictly into the API's own types.
type k8sManifests struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	secrets     []*corev1.Secret
	configMaps  []*corev1.ConfigMap
	pdbs        []*policyv1.PodDisruptionBudget
	ingresses   []*networkingv1.Ingress
	comments    string // every comment line, for the documented commands
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func loadK8s(t testing.TB) k8sManifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), k8sDir, "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML in %s (%v)", k8sDir, err)
	}
	var m k8sManifests
	var comments []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			if c, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok {
				comments = append(comments, c)
			}
		}
		for i, doc := range docSeparator.Split(string(src), -1) {
			where := fmt.Sprintf("%s document %d", filepath.Base(f), i+1)
			j, err := yaml.YAMLToJSONStrict([]byte(doc))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if string(bytes.TrimSpace(j)) == "null" {
				continue // comments only
			}
			var tm metav1.TypeMeta
			if err := json.Unmarshal(j, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				o := &appsv1.Deployment{}
				m.deployments, obj = append(m.deployments, o), o
			case "v1 Service":
				o := &corev1.Service{}
				m.services, obj = append(m.services, o), o
			case "v1 Secret":
				o := &corev1.Secret{}
				m.secrets, obj = append(m.secrets, o), o
			case "v1 ConfigMap":
				o := &corev1.ConfigMap{}
				m.configMaps, obj = append(m.configMaps, o), o
			case "policy/v1 PodDisruptionBudget":
				o := &policyv1.PodDisruptionBudget{}
				m.pdbs, obj = append(m.pdbs, o), o
			case "networking.k8s.io/v1 Ingress":
				o := &networkingv1.Ingress{}
				m.ingresses, obj = append(m.ingresses, o), o
			default:
				t.Fatalf("%s: %s %s is not a kind this test decodes; add it", where, tm.APIVersion, tm.Kind)
			}
			dec := json.NewDecoder(bytes.NewReader(j))
			dec.DisallowUnknownFields()
			if err := dec.Decode(obj); err != nil {
				t.Fatalf("%s (%s): %v", where, tm.Kind, err)
			}
		}
	}
	m.comments = strings.Join(comments, "\n")
	return m
}

// jetsse returns the Deployment and its jetsse container.
func (m k8sManifests) jetsse(t testing.TB) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	if len(m.deployments) != 1 {
		t.Fatalf("%d Deployments, want the jetsse one", len(m.deployments))
	}
	d := m.deployments[0]
	var found *corev1.Container
	for i, c := range d.Spec.Template.Spec.Containers {
		if strings.Contains(c.Image, "jetsse") {
			if found != nil {
				t.Fatal("two jetsse containers")
			}
			found = &d.Spec.Template.Spec.Containers[i]
		}
	}
	if found == nil {
		t.Fatal("the Deployment has no jetsse container")
	}
	return d, found
}

// kubernetesUses returns the jetsse invocations of the manifests.
func kubernetesUses(t testing.TB) []use {
	m := loadK8s(t)
	var uses []use
	for _, d := range m.deployments {
		spec := d.Spec.Template.Spec
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			if !strings.Contains(c.Image, "jetsse") {
				continue
			}
			args := cmdline(c.Args)
			if len(c.Command) > 0 {
				if path.Base(c.Command[0]) != "jetsse" {
					continue
				}
				args = cmdline(append(slices.Clone(c.Command[1:]), c.Args...))
			}
			envs := map[string]*string{}
			for _, e := range c.Env {
				if e.ValueFrom != nil {
					envs[e.Name] = nil
				} else {
					envs[e.Name] = &e.Value
				}
			}
			uses = append(uses, use{where: fmt.Sprintf("%s Deployment/%s container %s", k8sDir, d.Name, c.Name), args: args, env: envs})
		}
	}
	return uses
}

// containerPort resolves a probe's or a Service's target port.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func namedPort(t testing.TB, c *corev1.Container, name string) int32 {
	t.Helper()
	p, ok := containerPort(c, intstr.FromString(name))
	if !ok {
		t.Fatalf("container %s declares no port named %s", c.Name, name)
	}
	return p
}

// documentedSecret returns the name and keys of the Secret that the
// manifests' comments tell operators to create with kubectl.
var (
	createSecret = regexp.MustCompile(`kubectl create secret generic ([a-z0-9.-]+)`)
	secretKey    = regexp.MustCompile(`--from-(?:literal|file)=([A-Za-z0-9._-]+)=(\S*)`)
)

func (m k8sManifests) documentedSecret(t testing.TB) (string, map[string]string) {
	t.Helper()
	loc := createSecret.FindStringSubmatchIndex(m.comments)
	if loc == nil {
		t.Fatal("the manifests do not document the `kubectl create secret generic` command")
	}
	name := m.comments[loc[2]:loc[3]]
	keys := map[string]string{}
	// The command's continuation lines follow it.
	for _, line := range strings.Split(m.comments[loc[1]:], "\n") {
		for _, k := range secretKey.FindAllStringSubmatch(line, -1) {
			keys[k[1]] = k[2]
		}
		if !strings.HasSuffix(strings.TrimSpace(line), `\`) {
			break
		}
	}
	return name, keys
}

func TestKubernetesDeployment(t *testing.T) {
	m := loadK8s(t)
	d, c := m.jetsse(t)
	pod := d.Spec.Template.Spec
	args := cmdline(c.Args)
	if len(c.Command) != 0 || args.subcommand() != "serve" {
		t.Fatalf("container %s: want the image's entrypoint and args starting with serve, got command %v args %v", c.Name, c.Command, c.Args)
	}

	t.Run("image", func(t *testing.T) {
		if !pinned(c.Image) || strings.HasPrefix(c.Image, "ghcr.io/jetsse/") {
			t.Errorf("image %s: use a versioned name users build and push themselves (docker build -t …)", c.Image)
		}
		if !strings.Contains(m.comments, "docker build") || !strings.Contains(m.comments, c.Image) {
			t.Errorf("the manifests do not document how to build %s", c.Image)
		}
	})

	t.Run("security context", func(t *testing.T) {
		sc := pod.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Fatal("pod securityContext.runAsNonRoot is not true")
		}
		if sc.RunAsUser == nil || *sc.RunAsUser != imageUID {
			t.Errorf("pod runAsUser %s, want the numeric %d (the image's user)", ptr(sc.RunAsUser), imageUID)
		}
		if sc.RunAsGroup == nil || *sc.RunAsGroup != imageGID {
			t.Errorf("pod runAsGroup %s, want %d", ptr(sc.RunAsGroup), imageGID)
		}
		if sc.FSGroup == nil || *sc.FSGroup != imageGID {
			t.Errorf("pod fsGroup %s, want %d", ptr(sc.FSGroup), imageGID)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("pod seccompProfile %v, want RuntimeDefault", sc.SeccompProfile)
		}
		for _, ctr := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
			s := ctr.SecurityContext
			if s == nil {
				t.Errorf("container %s has no securityContext", ctr.Name)
				continue
			}
			if s.RunAsUser != nil && *s.RunAsUser != imageUID {
				t.Errorf("container %s runs as %d", ctr.Name, *s.RunAsUser)
			}
			if s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation {
				t.Errorf("container %s allows privilege escalation", ctr.Name)
			}
			if s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem {
				t.Errorf("container %s has a writable root filesystem", ctr.Name)
			}
			if s.Capabilities == nil || !slices.Contains(s.Capabilities.Drop, "ALL") || len(s.Capabilities.Add) != 0 {
				t.Errorf("container %s does not drop ALL capabilities", ctr.Name)
			}
			if !pinned(ctr.Image) {
				t.Errorf("container %s image %s is not pinned", ctr.Name, ctr.Image)
			}
		}
	})

	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mountFor := func(ctr *corev1.Container, p string) (corev1.VolumeMount, string, bool) {
		var best corev1.VolumeMount
		rel, found := "", false
		for _, vm := range ctr.VolumeMounts {
			mp := path.Clean(vm.MountPath)
			if (p == mp || strings.HasPrefix(p, mp+"/")) && (!found || len(mp) > len(best.MountPath)) {
				best, rel, found = vm, strings.TrimPrefix(strings.TrimPrefix(p, mp), "/"), true
			}
		}
		return best, rel, found
	}

	t.Run("data dir and session key", func(t *testing.T) {
		dataDir, _ := args.flag("data-dir")
		if vm, _, ok := mountFor(c, dataDir); !ok || volumes[vm.Name].EmptyDir == nil || vm.ReadOnly {
			t.Errorf("--data-dir=%s is not a writable emptyDir mount (the root filesystem is read-only)", dataDir)
		}
		keyFile, ok := args.flag("session-key-file")
		if !ok {
			t.Fatal("no --session-key-file: every pod would sign with its own key")
		}
		vm, rel, ok := mountFor(c, keyFile)
		if !ok {
			t.Fatalf("--session-key-file=%s is on no volume", keyFile)
		}
		ed := volumes[vm.Name].EmptyDir
		if ed == nil || ed.Medium != corev1.StorageMediumMemory {
			t.Errorf("the key's volume %s is not a memory emptyDir (a Secret volume is root-owned and group-readable; jetsse refuses it)", vm.Name)
		}
		// An init container running as the image's uid writes it 0600.
		written := false
		for _, ic := range pod.InitContainers {
			ivm, ok := func() (corev1.VolumeMount, bool) {
				for _, x := range ic.VolumeMounts {
					if x.Name == vm.Name && !x.ReadOnly {
						return x, true
					}
				}
				return corev1.VolumeMount{}, false
			}()
			if !ok {
				continue
			}
			script := strings.Join(append(slices.Clone(ic.Command), ic.Args...), " ")
			inInit := path.Join(ivm.MountPath, rel)
			if regexp.MustCompile(`chmod\s+0?600\s+` + regexp.QuoteMeta(inInit) + `(\s|;|$)`).MatchString(script) {
				written = true
			}
			readsSecret := false
			for _, x := range ic.VolumeMounts {
				if s := volumes[x.Name].Secret; s != nil && strings.Contains(script, x.MountPath+"/") {
					readsSecret = true
				}
			}
			if !readsSecret {
				t.Errorf("init container %s writes the key but reads no Secret volume", ic.Name)
			}
		}
		if !written {
			t.Errorf("no init container writes %s with chmod 0600", keyFile)
		}
	})

	http := namedPort(t, c, "http")
	admin := namedPort(t, c, "admin")

	t.Run("listeners", func(t *testing.T) {
		httpAddr := args.value(t, "http-addr")
		if int32(port(t, httpAddr)) != http {
			t.Errorf("--http-addr=%s but the container port named http is %d", httpAddr, http)
		}
		adminAddr, _ := args.flag("admin-addr")
		host, _, err := net.SplitHostPort(adminAddr)
		if err != nil || host != "0.0.0.0" || int32(port(t, adminAddr)) != admin {
			t.Errorf("--admin-addr=%q, want 0.0.0.0:%d (the container port named admin)", adminAddr, admin)
		}
		ann := d.Spec.Template.Annotations
		if ann["prometheus.io/port"] != strconv.Itoa(int(admin)) {
			t.Errorf("prometheus.io/port annotation %q, want the admin port %d", ann["prometheus.io/port"], admin)
		}
		if _, ok := args.flag("nats-url"); !ok {
			t.Error("no --nats-url: the pods would each run an embedded NATS server")
		}
		tp, ok := args.flag("trusted-proxy")
		if !ok || len(cidrs(t, tp)) == 0 {
			t.Error("no --trusted-proxy: forwarding headers from the ingress controller would be ignored")
		}
	})

	t.Run("probes", func(t *testing.T) {
		check := func(what string, p *corev1.Probe, wantPath string) {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("no %s HTTP probe", what)
				return
			}
			if p.HTTPGet.Path != wantPath {
				t.Errorf("%s probe path %s, want %s", what, p.HTTPGet.Path, wantPath)
			}
			if got, ok := containerPort(c, p.HTTPGet.Port); !ok || got != http {
				t.Errorf("%s probe port %s is not the http port %d", what, p.HTTPGet.Port.String(), http)
			}
		}
		check("readiness", c.ReadinessProbe, "/readyz")
		check("liveness", c.LivenessProbe, "/healthz")
		if c.StartupProbe != nil {
			check("startup", c.StartupProbe, "/healthz")
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
			t.Fatal("no lifecycle.preStop.sleep: pods would drain while endpoints still send them requests (the image has no sleep binary)")
		}
		preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		if preStop <= 0 {
			t.Errorf("preStop sleep %v", preStop)
		}
		drain := durationOf(t, args.value(t, "drain-timeout"))
		if pod.TerminationGracePeriodSeconds == nil {
			t.Fatal("no terminationGracePeriodSeconds (30s default)")
		}
		grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		if grace < preStop+drain+shutdownMargin {
			t.Errorf("terminationGracePeriodSeconds %v, want at least preStop %v + --drain-timeout %v + %v", grace, preStop, drain, shutdownMargin)
		}
		if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
			t.Error("rolling updates may take a pod down before its replacement is ready (maxUnavailable is not 0)")
		}
	})

	t.Run("secrets", func(t *testing.T) {
		name, keys := m.documentedSecret(t)
		check := func(secret, key, where string) {
			if secret != name {
				t.Errorf("%s uses Secret %s, the documented one is %s", where, secret, name)
			}
			if _, ok := keys[key]; !ok {
				t.Errorf("%s uses key %s, which the documented `kubectl create secret` does not create", where, key)
			}
		}
		for _, ctr := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
			for _, e := range ctr.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					check(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, "env "+e.Name)
				}
			}
		}
		for _, v := range pod.Volumes {
			if v.Secret != nil {
				for _, it := range v.Secret.Items {
					check(v.Secret.SecretName, it.Key, "volume "+v.Name)
				}
				if v.Secret.DefaultMode != nil && *v.Secret.DefaultMode&0o004 != 0 {
					t.Errorf("Secret volume %s is world-readable (mode %o)", v.Name, *v.Secret.DefaultMode)
				}
			}
		}
		if len(m.secrets) != 0 {
			t.Error("the manifests carry a Secret object: applying them would install its placeholder values")
		}
	})
}

func TestKubernetesServicesAndIngress(t *testing.T) {
	m := loadK8s(t)
	d, c := m.jetsse(t)
	podLabels := labels.Set(d.Spec.Template.Labels)
	http := namedPort(t, c, "http")
	admin := namedPort(t, c, "admin")

	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector does not match its pod labels (%v)", err)
	}

	if len(m.pdbs) != 1 {
		t.Errorf("%d PodDisruptionBudgets, want 1", len(m.pdbs))
	}
	for _, pdb := range m.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(podLabels) {
			t.Errorf("PodDisruptionBudget %s does not select the jetsse pods (%v)", pdb.Name, err)
		}
		if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
			t.Errorf("PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", pdb.Name)
		}
	}

	// Service port -> container port.
	svcPorts := map[string]map[string]int32{} // service -> "name" or number -> container port
	publicSvc, adminSvc := false, false
	for _, s := range m.services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service %s does not select the jetsse pods", s.Name)
			continue
		}
		svcPorts[s.Name] = map[string]int32{}
		for _, p := range s.Spec.Ports {
			tp := p.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(p.Port)
			}
			cp, ok := containerPort(c, tp)
			if !ok {
				t.Errorf("Service %s port %s targets %s, which the container does not declare", s.Name, p.Name, tp.String())
				continue
			}
			svcPorts[s.Name][p.Name] = cp
			svcPorts[s.Name][strconv.Itoa(int(p.Port))] = cp
			switch cp {
			case http:
				publicSvc = true
			case admin:
				adminSvc = true
				if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
					t.Errorf("Service %s exposes the admin port as %s; keep it ClusterIP", s.Name, s.Spec.Type)
				}
			}
		}
	}
	if !publicSvc {
		t.Error("no Service for the public port")
	}
	if !adminSvc && d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
		t.Error("the admin port is neither behind a ClusterIP Service nor annotated for Prometheus")
	}

	if len(m.ingresses) != 1 {
		t.Fatalf("%d Ingresses, want 1", len(m.ingresses))
	}
	ing := m.ingresses[0]
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName == "" {
		t.Error("the Ingress has no ingressClassName")
	}
	if ing.Annotations["nginx.ingress.kubernetes.io/proxy-buffering"] != "off" {
		t.Error("the Ingress does not turn ingress-nginx's proxy buffering off (SSE would stall)")
	}
	if v, err := strconv.Atoi(ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]); err != nil || v <= 60 {
		t.Errorf("proxy-read-timeout %q: raise it above the 60s default", ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
	}
	backend := func(b *networkingv1.IngressBackend, where string) {
		if b == nil || b.Service == nil {
			t.Errorf("%s: no service backend", where)
			return
		}
		ports, ok := svcPorts[b.Service.Name]
		if !ok {
			t.Errorf("%s: Service %s is not in the manifests", where, b.Service.Name)
			return
		}
		key := b.Service.Port.Name
		if key == "" {
			key = strconv.Itoa(int(b.Service.Port.Number))
		}
		switch cp := ports[key]; cp {
		case http:
		case admin:
			t.Errorf("%s routes to the admin listener (%d)", where, admin)
		default:
			t.Errorf("%s routes to container port %d, not the public port %d", where, cp, http)
		}
	}
	if ing.Spec.DefaultBackend != nil {
		backend(ing.Spec.DefaultBackend, "default backend")
	}
	if len(ing.Spec.Rules) == 0 {
		t.Fatal("the Ingress has no rules")
	}
	for _, r := range ing.Spec.Rules {
		if r.Host == "" {
			t.Error("an Ingress rule has no host")
		}
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			where := fmt.Sprintf("Ingress %s%s", r.Host, p.Path)
			for _, private := range []string{"/metrics", "/debug", "/v1/sessions"} {
				if strings.HasPrefix(p.Path, private) {
					t.Errorf("%s: admin paths never go through the Ingress", where)
				}
			}
			backend(&p.Backend, where)
		}
	}
}

// TestHelmValues checks deploy/helm/nats-values.yaml, the NATS chart's
// values the Kubernetes manifests rely on: a JetStream cluster whose users
// are the edges' credentials from the same Secret.
func TestHelmValues(t *testing.T) {
	m := loadK8s(t)
	_, c := m.jetsse(t)
	secretName, secretKeys := m.documentedSecret(t)

	var v struct {
		Config struct {
			Cluster struct {
				Enabled  bool `json:"enabled"`
				Replicas int  `json:"replicas"`
			} `json:"cluster"`
			JetStream struct {
				Enabled bool `json:"enabled"`
			} `json:"jetstream"`
			Merge struct {
				Authorization struct {
					Users []struct {
						User     string `json:"user"`
						Password string `json:"password"`
					} `json:"users"`
				} `json:"authorization"`
			} `json:"merge"`
		} `json:"config"`
		Container struct {
			Env map[string]json.RawMessage `json:"env"`
		} `json:"container"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "deploy/helm/nats-values.yaml")), &v); err != nil {
		t.Fatalf("nats-values.yaml: %v", err)
	}
	if !v.Config.Cluster.Enabled || !v.Config.JetStream.Enabled {
		t.Error("the NATS values do not enable the cluster and JetStream")
	}
	replicas, _ := cmdline(c.Args).flag("replicas")
	if n, _ := strconv.Atoi(replicas); n < 1 || n > v.Config.Cluster.Replicas {
		t.Errorf("--replicas=%s, but the NATS cluster has %d servers", replicas, v.Config.Cluster.Replicas)
	}
	natsURL, _ := cmdline(c.Args).flag("nats-url")
	release := regexp.MustCompile(`helm install ([a-z0-9-]+) nats/nats`).FindStringSubmatch(m.comments)
	if release == nil {
		t.Error("the manifests do not document the `helm install <release> nats/nats` command")
	} else if !strings.HasPrefix(natsURL, "nats://"+release[1]+":") {
		t.Errorf("--nats-url=%s does not name the Service of the documented Helm release %q", natsURL, release[1])
	}

	// The edges' user: JETSSE_NATS_USER's documented literal, with a
	// password variable the NATS container reads from the same Secret key
	// as JETSSE_NATS_PASSWORD.
	var userKey, passKey string
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		switch e.Name {
		case "JETSSE_NATS_USER":
			userKey = e.ValueFrom.SecretKeyRef.Key
		case "JETSSE_NATS_PASSWORD":
			passKey = e.ValueFrom.SecretKeyRef.Key
		}
	}
	if userKey == "" || passKey == "" {
		t.Fatal("the jetsse container takes JETSSE_NATS_USER and JETSSE_NATS_PASSWORD from no Secret")
	}
	user := secretKeys[userKey]
	placeholder := regexp.MustCompile(`^<< \$([A-Z0-9_]+) >>$`)
	found := false
	for _, u := range v.Config.Merge.Authorization.Users {
		if u.User != user {
			continue
		}
		found = true
		mm := placeholder.FindStringSubmatch(u.Password)
		if mm == nil {
			t.Fatalf("user %s's password %q is not a << $VAR >> config variable", u.User, u.Password)
		}
		raw, ok := v.Container.Env[mm[1]]
		if !ok {
			t.Fatalf("the NATS container does not set %s", mm[1])
		}
		var src corev1.EnvVarSource
		if err := json.Unmarshal(raw, &struct {
			ValueFrom *corev1.EnvVarSource `json:"valueFrom"`
		}{&src}); err != nil || src.SecretKeyRef == nil {
			t.Fatalf("NATS container env %s is not from a Secret (%v)", mm[1], err)
		}
		if src.SecretKeyRef.Name != secretName || src.SecretKeyRef.Key != passKey {
			t.Errorf("NATS reads %s from %s/%s, the edges their password from %s/%s", mm[1], src.SecretKeyRef.Name, src.SecretKeyRef.Key, secretName, passKey)
		}
	}
	if !found {
		t.Errorf("the NATS values have no user %q (the documented %s)", user, userKey)
	}
}

func ptr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
