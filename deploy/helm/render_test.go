package helm_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestRenderMatrix renders every values file of the matrix, decodes every
// object strictly and checks the promises of SPEC §18 on each.
func TestRenderMatrix(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			vals := readValues(t, c.path)
			m := mustRender(t, vals)
			checkObjects(t, m, vals)
			checkPodSecurity(t, m)
			checkProbesAndPorts(t, m)
			checkVolumes(t, m)
			checkSelectors(t, m)
		})
	}
}

// get reads a dotted path of the chart's values merged over the defaults.
func get(t *testing.T, vals map[string]any, path string) any {
	t.Helper()
	merged := chartValues(t, vals)
	var cur any = merged
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("values: %s is not a map at %q", path, p)
		}
		cur = mm[p]
	}
	return cur
}

func checkObjects(t *testing.T, m *manifests, vals map[string]any) {
	t.Helper()
	webhook := get(t, vals, "webhook.enabled").(bool)
	want := map[string]bool{
		"webhook Service":     webhook,
		"metrics Service":     true,
		"PodDisruptionBudget": get(t, vals, "podDisruptionBudget.enabled").(bool),
		"ServiceAccount":      get(t, vals, "serviceAccount.create").(bool),
		"ServiceMonitor":      get(t, vals, "serviceMonitor.enabled").(bool),
		"PrometheusRule":      get(t, vals, "prometheusRule.enabled").(bool),
	}
	got := map[string]bool{
		"webhook Service":     m.services["webhook"] != nil,
		"metrics Service":     m.services["metrics"] != nil,
		"PodDisruptionBudget": m.pdb != nil,
		"ServiceAccount":      m.serviceAccount != nil,
		"ServiceMonitor":      m.serviceMonitor != nil,
		"PrometheusRule":      m.promRule != nil,
	}
	if !maps.Equal(got, want) {
		t.Errorf("objects rendered %v, want %v (kinds %v)", got, want, m.kinds)
	}
	replicas := int32(toInt(t, get(t, vals, "replicaCount")))
	if r := m.deployment.Spec.Replicas; r == nil || *r != replicas {
		t.Errorf("replicas = %v, want %d", r, replicas)
	}
	for _, o := range []struct{ kind, ns string }{
		{"Deployment", m.deployment.Namespace}, {"ConfigMap", m.configMap.Namespace},
		{"metrics Service", m.services["metrics"].Namespace},
	} {
		if o.ns != namespace {
			t.Errorf("%s namespace = %q, want the release's %q", o.kind, o.ns, namespace)
		}
	}
	if m.pdb != nil {
		mu := m.pdb.Spec.MaxUnavailable
		want := intstr.FromInt32(int32(toInt(t, get(t, vals, "podDisruptionBudget.maxUnavailable"))))
		if mu == nil || *mu != want || m.pdb.Spec.MinAvailable != nil {
			t.Errorf("PDB maxUnavailable = %v minAvailable = %v, want maxUnavailable %v only", mu, m.pdb.Spec.MinAvailable, want)
		}
	}
}

func toInt(t *testing.T, v any) int {
	t.Helper()
	switch n := v.(type) {
	case float64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

// checkPodSecurity: read-only root file system, non-root, no capabilities,
// no privilege escalation, RuntimeDefault seccomp, no API token.
func checkPodSecurity(t *testing.T, m *manifests) {
	t.Helper()
	pod := m.deployment.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod must run as a non-root user: %+v", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccomp profile must be RuntimeDefault: %+v", psc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod must not mount a service account token (pagergate never calls the Kubernetes API)")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("the pod must not share host namespaces")
	}
	c := m.container(t)
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container root file system must be read-only")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container must not allow privilege escalation")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("container must not be privileged")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("container must drop ALL capabilities and add none: %+v", sc.Capabilities)
	case sc.RunAsUser != nil && *sc.RunAsUser == 0:
		t.Error("container must not run as root")
	}
}

func checkProbesAndPorts(t *testing.T, m *manifests) {
	t.Helper()
	c := m.container(t)
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe missing or not HTTP", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || g.Port != intstr.FromString("metrics") || (g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP) {
			t.Errorf("%s probe = %s on port %s, want %s on the metrics port over HTTP", p.name, g.Path, g.Port.String(), p.path)
		}
	}
	if _, ok := ports["metrics"]; !ok {
		t.Fatalf("container has no metrics port: %v", c.Ports)
	}
	_, hasWebhook := ports["webhook"]
	if hasWebhook != (m.services["webhook"] != nil) {
		t.Errorf("webhook port %v but webhook Service %v", hasWebhook, m.services["webhook"] != nil)
	}
	for comp, svc := range m.services {
		for _, sp := range svc.Spec.Ports {
			if _, ok := ports[sp.TargetPort.String()]; !ok || sp.TargetPort.Type != intstr.String {
				t.Errorf("%s Service targets port %q, which the container does not name (%v)", comp, sp.TargetPort.String(), ports)
			}
		}
	}
	if sm := m.serviceMonitor; sm != nil {
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints = %+v, want the metrics port's /metrics", sm.Spec.Endpoints)
		}
		if !subset(sm.Spec.Selector.MatchLabels, m.services["metrics"].Labels) {
			t.Errorf("ServiceMonitor selects %v, which the metrics Service's labels %v do not match", sm.Spec.Selector.MatchLabels, m.services["metrics"].Labels)
		}
		if w := m.services["webhook"]; w != nil && subset(sm.Spec.Selector.MatchLabels, w.Labels) {
			t.Error("ServiceMonitor also selects the webhook Service")
		}
	}
}

// checkVolumes: the identity Secret is mounted as a directory (a subPath
// mount would never see tbot's renewals), the store is an emptyDir of the
// pod, and the configuration is the ConfigMap's key the args name.
func checkVolumes(t *testing.T, m *manifests) {
	t.Helper()
	c := m.container(t)
	vols := map[string]corev1.Volume{}
	for _, v := range m.deployment.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			t.Errorf("mount %s uses subPath: Secret and ConfigMap updates would not reach the pod", vm.Name)
		}
		if _, ok := vols[vm.Name]; !ok {
			t.Errorf("mount %s names no volume", vm.Name)
		}
		mounts[vm.MountPath] = vm
	}
	id := vols["teleport-identity"]
	if id.Secret == nil || id.Secret.SecretName == "" || len(id.Secret.Items) != 0 {
		t.Errorf("identity volume must be a whole Secret: %+v", id.VolumeSource)
	}
	if st, ok := mounts["/var/lib/pagergate"]; !ok || vols[st.Name].EmptyDir == nil || st.ReadOnly {
		t.Errorf("the store directory must be a writable emptyDir: %+v", st)
	}
	if cfgMount, ok := mounts["/etc/pagergate"]; !ok || vols[cfgMount.Name].ConfigMap == nil ||
		vols[cfgMount.Name].ConfigMap.Name != m.configMap.Name || !cfgMount.ReadOnly {
		t.Errorf("/etc/pagergate must be the read-only ConfigMap %s: %+v", m.configMap.Name, cfgMount)
	}
	if !slices.Equal(c.Args, []string{"start", "-c", "/etc/pagergate/pagergate.hcl"}) {
		t.Errorf("args = %q, want start -c /etc/pagergate/pagergate.hcl", c.Args)
	}
	for _, vm := range c.VolumeMounts {
		v := vols[vm.Name]
		if (v.Secret != nil || v.ConfigMap != nil) && !vm.ReadOnly {
			t.Errorf("mount %s of a Secret or ConfigMap must be read-only", vm.Name)
		}
	}
}

// checkSelectors: the Deployment selects its pods, and the Services and
// the PDB select those pods only.
func checkSelectors(t *testing.T, m *manifests) {
	t.Helper()
	podLabels := m.deployment.Spec.Template.Labels
	sel := m.deployment.Spec.Selector.MatchLabels
	if len(sel) == 0 || !subset(sel, podLabels) {
		t.Fatalf("Deployment selector %v does not match its pod labels %v", sel, podLabels)
	}
	for comp, svc := range m.services {
		if !maps.Equal(svc.Spec.Selector, sel) {
			t.Errorf("%s Service selects %v, want the Deployment's %v", comp, svc.Spec.Selector, sel)
		}
	}
	if m.pdb != nil && !maps.Equal(m.pdb.Spec.Selector.MatchLabels, sel) {
		t.Errorf("PDB selects %v, want the Deployment's %v", m.pdb.Spec.Selector.MatchLabels, sel)
	}
	if sa := m.serviceAccount; sa != nil && m.deployment.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("pod runs as %q, the chart creates %q", m.deployment.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
}

func subset(sub, super map[string]string) bool {
	for k, v := range sub {
		if super[k] != v {
			return false
		}
	}
	return true
}
