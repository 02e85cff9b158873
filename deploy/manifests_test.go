package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's Kustomization these files use;
// decoding it strictly rejects anything else.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images,omitempty"`
}

// manifests is every object under kubernetes/, decoded strictly.
type manifests struct {
	services        map[string]*corev1.Service
	statefulSets    map[string]*appsv1.StatefulSet
	deployments     map[string]*appsv1.Deployment
	pdbs            map[string]*policyv1.PodDisruptionBudget
	serviceMonitors map[string]*monitoringv1.ServiceMonitor
	kustomization   *kustomization
	files           map[string][]string // file (relative to kubernetes/) -> kind/name of its objects
}

// loadManifests decodes every YAML document under kubernetes/ into its
// Kubernetes API type with unknown and duplicate fields rejected.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{
		services:        map[string]*corev1.Service{},
		statefulSets:    map[string]*appsv1.StatefulSet{},
		deployments:     map[string]*appsv1.Deployment{},
		pdbs:            map[string]*policyv1.PodDisruptionBudget{},
		serviceMonitors: map[string]*monitoringv1.ServiceMonitor{},
		files:           map[string][]string{},
	}
	err := filepath.WalkDir("kubernetes", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("kubernetes", path)
		for i, doc := range splitYAML(b) {
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				return fmt.Errorf("%s: document %d: %w", path, i+1, err)
			}
			var obj any
			var store func()
			switch head.APIVersion + " " + head.Kind {
			case "v1 Service":
				o := &corev1.Service{}
				obj, store = o, func() { m.services[o.Name] = o }
			case "apps/v1 StatefulSet":
				o := &appsv1.StatefulSet{}
				obj, store = o, func() { m.statefulSets[o.Name] = o }
			case "apps/v1 Deployment":
				o := &appsv1.Deployment{}
				obj, store = o, func() { m.deployments[o.Name] = o }
			case "policy/v1 PodDisruptionBudget":
				o := &policyv1.PodDisruptionBudget{}
				obj, store = o, func() { m.pdbs[o.Name] = o }
			case "monitoring.coreos.com/v1 ServiceMonitor":
				o := &monitoringv1.ServiceMonitor{}
				obj, store = o, func() { m.serviceMonitors[o.Name] = o }
			case "kustomize.config.k8s.io/v1beta1 Kustomization":
				o := &kustomization{}
				obj, store = o, func() { m.kustomization = o }
			default:
				return fmt.Errorf("%s: document %d: no check for %q %q; add its type to loadManifests", path, i+1, head.APIVersion, head.Kind)
			}
			if err := decodeStrict(doc, obj); err != nil {
				return fmt.Errorf("%s: document %d (%s %s): %w", path, i+1, head.Kind, head.Metadata.Name, err)
			}
			store()
			m.files[rel] = append(m.files[rel], head.Kind+"/"+head.Metadata.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// splitYAML splits a multi-document YAML file at its "---" lines, dropping
// documents that are only comments.
func splitYAML(b []byte) [][]byte {
	var docs [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		for _, line := range strings.Split(doc, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				docs = append(docs, []byte(doc))
				break
			}
		}
	}
	return docs
}

// decodeStrict decodes one YAML document into obj as the API server's
// strict field validation does: duplicate keys, unknown fields and fields
// spelled in another case ("clusterIp") are errors.
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("strict decoding: %s", strings.Join(msgs, "; "))
	}
	return nil
}

func TestStrictDecodingRejects(t *testing.T) {
	// The decoder the checks rely on: a misspelt, unknown, misplaced or
	// repeated field fails; a correct document passes.
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: None}\n", true},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIp: None}\n", false},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: None, headless: true}\n", false},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: x, clusterIP: None}\n", false},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: None, clusterIP: None}\n", false},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: seven}]}\n", false},
	} {
		err := decodeStrict([]byte(tc.doc), &corev1.Service{})
		if (err == nil) != tc.ok {
			t.Errorf("decodeStrict: %v, want ok=%v:\n%s", err, tc.ok, tc.doc)
		}
	}
}

func TestManifests(t *testing.T) {
	m := loadManifests(t)

	// The kustomization lists files that exist and hold the tier.
	k := m.kustomization
	if k == nil {
		t.Fatal("kubernetes/kustomization.yaml missing")
	}
	for _, r := range k.Resources {
		if _, ok := m.files[r]; !ok {
			t.Errorf("kustomization resource %q: no such manifest", r)
		}
	}

	svc, sts, pdb := m.services["cache"], m.statefulSets["cache"], m.pdbs["cache"]
	if svc == nil || sts == nil || pdb == nil {
		t.Fatalf("want Service, StatefulSet and PodDisruptionBudget named cache; have %v", m.files)
	}
	tmpl := sts.Spec.Template
	podLabels := tmpl.Labels

	// The headless Service governs the StatefulSet and selects its pods.
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service cache: clusterIP %q, want None (headless)", svc.Spec.ClusterIP)
	}
	if sts.Spec.ServiceName != svc.Name {
		t.Errorf("StatefulSet serviceName %q, want the headless Service %q", sts.Spec.ServiceName, svc.Name)
	}
	if !selects(sts.Spec.Selector.MatchLabels, podLabels) || len(sts.Spec.Selector.MatchExpressions) > 0 {
		t.Errorf("StatefulSet selector %v does not match its pod labels %v", sts.Spec.Selector, podLabels)
	}
	for _, s := range m.services {
		if !selects(s.Spec.Selector, podLabels) {
			t.Errorf("Service %s selector %v does not match the pods %v", s.Name, s.Spec.Selector, podLabels)
		}
	}

	// The PDB: one node down at most, selecting exactly these pods.
	if mu := pdb.Spec.MaxUnavailable; mu == nil || *mu != intstr.FromInt32(1) {
		t.Errorf("PDB maxUnavailable %v, want 1", mu)
	}
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, podLabels) || !selects(podLabels, pdb.Spec.Selector.MatchLabels) {
		t.Errorf("PDB selector %v does not match the StatefulSet's pods %v", pdb.Spec.Selector, podLabels)
	}

	if len(tmpl.Spec.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(tmpl.Spec.Containers))
	}
	c := tmpl.Spec.Containers[0]
	flags := parseFlags(t, c.Args)

	// Placement from identity.
	if flags["slot"] != "auto" {
		t.Errorf("--slot %q, want auto (slot from the pod's ordinal)", flags["slot"])
	}
	if flags["bind"] != "0.0.0.0" {
		t.Errorf("--bind %q, want 0.0.0.0 (reachable from other pods)", flags["bind"])
	}

	// Ports: the flags, the container ports, the Services and the scrape
	// annotations agree.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if strconv.Itoa(int(ports["redis"])) != flags["port"] {
		t.Errorf("container port redis %d, --port %q", ports["redis"], flags["port"])
	}
	_, mport, _ := strings.Cut(flags["metrics-addr"], ":")
	if mport == "" || strconv.Itoa(int(ports["metrics"])) != mport {
		t.Errorf("container port metrics %d, --metrics-addr %q", ports["metrics"], flags["metrics-addr"])
	}
	if a := tmpl.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != mport || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v, want scrape true, port %s, path /metrics", a, mport)
	}
	for _, s := range m.services {
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type != intstr.String || ports[p.TargetPort.StrVal] == 0 {
				t.Errorf("Service %s port %s: targetPort %v is not a named container port", s.Name, p.Name, p.TargetPort.String())
			} else if p.Port != ports[p.TargetPort.StrVal] {
				t.Errorf("Service %s port %s: %d, container port %d", s.Name, p.Name, p.Port, ports[p.TargetPort.StrVal])
			}
		}
	}
	if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].Name != "redis" {
		t.Errorf("headless Service: want a port named redis (SRV _redis._tcp.cache...), have %v", svc.Spec.Ports)
	}

	// Probes: on the metrics port, at paths the node serves.
	served := servedPaths(t)
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		want := map[string]string{"readiness": "/readyz", "liveness": "/healthz"}[name]
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", name, want)
			continue
		}
		if p.HTTPGet.Path != want || !served[p.HTTPGet.Path] {
			t.Errorf("%s probe path %q, want %s (served by cachenode: %v)", name, p.HTTPGet.Path, want, served)
		}
		if p.HTTPGet.Port.String() != "metrics" {
			t.Errorf("%s probe port %v, want metrics", name, p.HTTPGet.Port.String())
		}
	}

	// Termination: preStop, then cachenode's drain, within the grace period.
	drain := shutdownGrace(t)
	var preStop int64
	if l := c.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		preStop = l.PreStop.Sleep.Seconds
	}
	if g := tmpl.Spec.TerminationGracePeriodSeconds; g == nil || *g <= preStop+drain {
		t.Errorf("terminationGracePeriodSeconds %v, want more than preStop %ds + cachenode's drain %ds", g, preStop, drain)
	}

	// Memory: maxmemory leaves room under the limit for cachenode's overhead
	// (docs/cachenode.md: RSS <= 1.25 x maxmemory + 40 MB) and 10% more.
	maxmem := parseSize(t, flags["maxmemory"])
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok || maxmem == 0 {
		t.Errorf("want a memory limit (%v) and a nonzero --maxmemory (%q)", c.Resources.Limits, flags["maxmemory"])
	} else if need := maxmem*5/4 + 40<<20; need > limit.Value()*9/10 {
		t.Errorf("--maxmemory %s needs up to %d MiB resident; the limit %s leaves less than 10%% headroom", flags["maxmemory"], need>>20, limit.String())
	}
	if req := c.Resources.Requests[corev1.ResourceMemory]; req.Cmp(limit) != 0 {
		t.Errorf("memory request %s != limit %s: a cache node should not be evicted for using what it was given", req.String(), limit.String())
	}

	// Non-root, read-only root filesystem, no privilege escalation.
	if ps := tmpl.Spec.SecurityContext; ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
		t.Error("pod securityContext: want runAsNonRoot: true")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container securityContext: want readOnlyRootFilesystem: true, allowPrivilegeEscalation: false")
	}

	// The image's entrypoint is the command the StatefulSet runs.
	entry, user := dockerfile(t)
	if len(c.Command) == 0 || entry[0] != c.Command[0] {
		t.Errorf("container command %v, Dockerfile ENTRYPOINT %v", c.Command, entry)
	}
	if user == "" || user == "0" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0:") {
		t.Errorf("Dockerfile: final USER %q, want a non-root user", user)
	}
	if ps := tmpl.Spec.SecurityContext; ps != nil && ps.RunAsUser != nil && !strings.HasPrefix(user, strconv.FormatInt(*ps.RunAsUser, 10)) {
		t.Errorf("runAsUser %d, Dockerfile USER %q", *ps.RunAsUser, user)
	}

	// The optional ServiceMonitor selects the metrics Service's port.
	for _, sm := range m.serviceMonitors {
		found := false
		for _, s := range m.services {
			if selects(sm.Spec.Selector.MatchLabels, s.Labels) {
				for _, ep := range sm.Spec.Endpoints {
					for _, p := range s.Spec.Ports {
						found = found || p.Name == ep.Port
					}
				}
			}
		}
		if !found {
			t.Errorf("ServiceMonitor %s selects no Service port (selector %v)", sm.Name, sm.Spec.Selector.MatchLabels)
		}
	}

	// The client example resolves the headless Service's SRV name.
	src, err := os.ReadFile("../examples/k8s-client/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if want := "_redis._tcp." + svc.Name + "."; !bytes.Contains(src, []byte(want)) {
		t.Errorf("examples/k8s-client does not resolve %s<namespace>.svc.cluster.local", want)
	}
}

// selects reports whether every label in sel is in labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// parseFlags reads --name=value arguments (the form the manifests use).
func parseFlags(t *testing.T, args []string) map[string]string {
	t.Helper()
	flags := map[string]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			t.Errorf("argument %q: write flags as --name=value", a)
			continue
		}
		flags[name] = value
	}
	return flags
}

// parseSize parses a size as cachenode's --maxmemory does (redis.conf
// units), for the sizes the manifests use.
func parseSize(t *testing.T, s string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)(kb|mb|gb|k|m|g|b)?$`).FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		t.Errorf("--maxmemory %q: not a size", s)
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	mul := map[string]int64{"": 1, "b": 1, "k": 1e3, "kb": 1 << 10, "m": 1e6, "mb": 1 << 20, "g": 1e9, "gb": 1 << 30}[m[2]]
	return n * mul
}

// servedPaths returns the HTTP paths cachenode's metrics server handles,
// read from its source.
func servedPaths(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("../cachenode/stats_metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, m := range regexp.MustCompile(`mux\.Handle(?:Func)?\("(/[a-z]+)"`).FindAllStringSubmatch(string(src), -1) {
		paths[m[1]] = true
	}
	if !paths["/healthz"] || !paths["/readyz"] || !paths["/metrics"] {
		t.Fatalf("cachenode/stats_metrics.go: found paths %v; has the handler moved?", paths)
	}
	return paths
}

// shutdownGrace returns cachenode's drain bound in seconds, read from
// cmd/cachenode.
func shutdownGrace(t *testing.T) int64 {
	t.Helper()
	src, err := os.ReadFile("../cmd/cachenode/main.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`shutdownGrace = (\d+) \* time\.Second`).FindSubmatch(src)
	if m == nil {
		t.Fatal("cmd/cachenode/main.go: shutdownGrace not found; has it moved?")
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// dockerfile checks the Dockerfile's instructions as far as can be done
// without a container engine (known instructions, a final stage, a JSON
// ENTRYPOINT) and returns the entrypoint and the final stage's USER.
func dockerfile(t *testing.T) (entry []string, user string) {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	known := []string{"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}
	stages := 0
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		switch instr = strings.ToUpper(instr); {
		case !slices.Contains(known, instr):
			t.Errorf("Dockerfile line %d: unknown instruction %q", i+1, instr)
		case instr == "FROM":
			stages++
			user = ""
		case instr == "USER":
			user = strings.TrimSpace(rest)
		case instr == "ENTRYPOINT":
			if err := yaml.Unmarshal([]byte(rest), &entry); err != nil || len(entry) == 0 || !strings.HasPrefix(strings.TrimSpace(rest), "[") {
				t.Errorf("Dockerfile line %d: ENTRYPOINT %s: want the JSON (exec) form", i+1, rest)
			}
		}
	}
	if stages < 2 {
		t.Errorf("Dockerfile: %d stages, want a build stage and a runtime stage", stages)
	}
	if len(entry) == 0 {
		t.Fatal("Dockerfile: no ENTRYPOINT")
	}
	return entry, user
}
