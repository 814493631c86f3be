package helm_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pagergate/pagergate/deploy/helm"
)

var update = flag.Bool("update", false, "rewrite the values table in the chart's README.md (make chart-docs)")

// TestValuesTable: the table in the chart's README.md is the one
// values.yaml's comments generate; `make chart-docs` rewrites it.
func TestValuesTable(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := helm.ValuesRows(src)
	if err != nil {
		t.Fatal(err)
	}
	readmePath := filepath.Join(chartDir, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := helm.ReplaceTable(string(readme), helm.Table(rows))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != string(readme) {
		t.Errorf("%s: the values table drifted from values.yaml; run make chart-docs", readmePath)
	}
}

// TestValuesRowsRequireDescriptions: the generator refuses a value without
// a description and reads multi-line ones.
func TestValuesRowsRequireDescriptions(t *testing.T) {
	_, err := helm.ValuesRows([]byte("a:\n  # -- documented\n  b: 1\n  c: x\n"))
	if err == nil || !strings.Contains(err.Error(), "a.c") {
		t.Errorf("undocumented a.c: err = %v", err)
	}
	rows, err := helm.ValuesRows([]byte("# header\n\n# a note\n# -- first line\n# second | line\nk: [1]\n# -- an object\no:\n  x: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []helm.Row{
		{Key: "k", Type: "list", Default: "[1]", Description: "first line second | line"},
		{Key: "o", Type: "object", Default: `{"x":1}`, Description: "an object"},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows = %+v, want %+v", rows, want)
	}
	if tbl := helm.Table(rows); !strings.Contains(tbl, `second \| line`) {
		t.Errorf("a | in a description must be escaped:\n%s", tbl)
	}
}

// TestSchemaMatchesValues: values.schema.json (which makes unknown keys
// errors) describes exactly the keys values.yaml has, down to the
// free-form maps.
func TestSchemaMatchesValues(t *testing.T) {
	var schema map[string]any
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	vals := readValues(t, filepath.Join(chartDir, "values.yaml"))
	var problems []string
	var walk func(path string, v map[string]any, s map[string]any)
	walk = func(path string, v map[string]any, s map[string]any) {
		props, ok := s["properties"].(map[string]any)
		if !ok {
			return // a free-form object
		}
		if s["additionalProperties"] != false {
			problems = append(problems, path+": schema allows unknown keys")
		}
		for k := range v {
			if _, ok := props[k]; !ok {
				problems = append(problems, path+k+": in values.yaml, not in the schema")
			}
		}
		for k, ps := range props {
			vv, ok := v[k]
			if !ok {
				if path+k != "global" {
					problems = append(problems, path+k+": in the schema, not in values.yaml")
				}
				continue
			}
			if vm, ok := vv.(map[string]any); ok {
				walk(path+k+".", vm, ps.(map[string]any))
			}
		}
	}
	walk("", vals, schema)
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}
