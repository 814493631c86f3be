package helm_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/pagergate/pagergate/deploy/internal/testbin"
)

const (
	chartDir    = "pagergate"
	releaseName = "pg"
	namespace   = "teleport"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// valueCase is one values file of the test matrix (the chart's ci/ folder).
type valueCase struct {
	name string // file name without -values.yaml
	path string
}

// cases lists ci/*-values.yaml: every file there is linted, rendered,
// decoded and its configuration checked.
func cases(t *testing.T) []valueCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"default", "fake", "mtls", "no-webhook", "three-replicas"}
	var out []valueCase
	var names []string
	for _, p := range paths {
		n := strings.TrimSuffix(filepath.Base(p), "-values.yaml")
		out = append(out, valueCase{name: n, path: p})
		names = append(names, n)
	}
	sort.Strings(names)
	for _, w := range want {
		if i := sort.SearchStrings(names, w); i == len(names) || names[i] != w {
			t.Fatalf("the matrix lost its %q case: ci/ holds %v", w, names)
		}
	}
	return out
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return v.AsMap()
}

// chartValues is vals coalesced over the chart's values.yaml, as Helm
// hands them to the templates.
func chartValues(t *testing.T, vals map[string]any) map[string]any {
	t.Helper()
	v, err := chartutil.CoalesceValues(loadChart(t), vals)
	if err != nil {
		t.Fatal(err)
	}
	return v.AsMap()
}

// render renders the chart like `helm template` (install, schema checked)
// with strict templates: a reference to a value that does not exist fails.
func render(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	ch := loadChart(t)
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, IsInstall: true, Revision: 1}
	rv, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities.Copy())
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(ch, rv)
}

// manifests is a rendered release, decoded.
type manifests struct {
	files          map[string]string
	deployment     *appsv1.Deployment
	configMap      *corev1.ConfigMap
	services       map[string]*corev1.Service // by app.kubernetes.io/component
	pdb            *policyv1.PodDisruptionBudget
	serviceAccount *corev1.ServiceAccount
	serviceMonitor *serviceMonitor
	promRule       *prometheusRule
	kinds          []string // every object's kind, in file order
}

func mustRender(t *testing.T, vals map[string]any) *manifests {
	t.Helper()
	files, err := render(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	m, err := decodeAll(files)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decodeAll decodes every object of every rendered template strictly:
// a field its Kubernetes type (or the operator CRD's) does not have, or a
// field given twice, is an error.
func decodeAll(files map[string]string) (*manifests, error) {
	m := &manifests{files: files, services: map[string]*corev1.Service{}}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasPrefix(filepath.Base(name), "_") {
			continue
		}
		for i, doc := range splitDocs(files[name]) {
			if err := m.decode(doc); err != nil {
				return nil, fmt.Errorf("%s, document %d: %w\n%s", name, i, err, doc)
			}
		}
	}
	if m.deployment == nil || m.configMap == nil {
		return nil, fmt.Errorf("no Deployment or ConfigMap rendered: %v", m.kinds)
	}
	return m, nil
}

// splitDocs splits a YAML stream and drops documents without content.
func splitDocs(s string) []string {
	var out []string
	for _, d := range strings.Split("\n"+s, "\n---") {
		for _, line := range strings.Split(d, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

func (m *manifests) decode(doc string) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
		return err
	}
	var target any
	switch head.APIVersion + " " + head.Kind {
	case "apps/v1 Deployment":
		m.deployment = &appsv1.Deployment{}
		target = m.deployment
	case "v1 ConfigMap":
		m.configMap = &corev1.ConfigMap{}
		target = m.configMap
	case "v1 Service":
		s := &corev1.Service{}
		if err := strict(doc, s); err != nil {
			return err
		}
		m.services[s.Labels["app.kubernetes.io/component"]] = s
		m.kinds = append(m.kinds, head.Kind)
		return nil
	case "policy/v1 PodDisruptionBudget":
		m.pdb = &policyv1.PodDisruptionBudget{}
		target = m.pdb
	case "v1 ServiceAccount":
		m.serviceAccount = &corev1.ServiceAccount{}
		target = m.serviceAccount
	case "monitoring.coreos.com/v1 ServiceMonitor":
		m.serviceMonitor = &serviceMonitor{}
		target = m.serviceMonitor
	case "monitoring.coreos.com/v1 PrometheusRule":
		m.promRule = &prometheusRule{}
		target = m.promRule
	default:
		return fmt.Errorf("no decoder for %s %s: add its type to the test", head.APIVersion, head.Kind)
	}
	m.kinds = append(m.kinds, head.Kind)
	return strict(doc, target)
}

func strict(doc string, target any) error {
	return yaml.UnmarshalStrict([]byte(doc), target)
}

// hcl is the rendered pagergate configuration.
func (m *manifests) hcl(t *testing.T) string {
	t.Helper()
	s, ok := m.configMap.Data["pagergate.hcl"]
	if !ok {
		t.Fatalf("ConfigMap has no pagergate.hcl: %v", m.configMap.Data)
	}
	return s
}

func (m *manifests) container(t *testing.T) *corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("want one container, got %d", len(cs))
	}
	return &cs[0]
}

// The Prometheus Operator's CRDs, reduced to the fields the chart writes;
// strict decoding makes any other field an error. Field names follow
// monitoring.coreos.com/v1.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type serviceMonitor struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type prometheusRule struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Groups []struct {
			Name  string      `json:"name"`
			Rules []alertRule `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

type alertRule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// setValue sets a dotted path in a values map, creating maps on the way.
func setValue(vals map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	cur := vals
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}
