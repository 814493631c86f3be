package helm_test

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestLint runs `helm lint --strict` on every values file of the matrix:
// no warning and no error; the only information allowed is the missing
// icon (the project has none).
func TestLint(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			l := lint.All(chartDir, readValues(t, c.path), namespace, false)
			for _, msg := range l.Messages {
				if msg.Severity == support.InfoSev && strings.Contains(msg.Err.Error(), "icon is recommended") {
					continue
				}
				t.Errorf("lint: %s", msg.Error())
			}
		})
	}
}
