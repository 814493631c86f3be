package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func pagerWithKey(expr string) string {
	return `teleport {
  addr     = "teleport.example.com:443"
  identity = "/id"
}
pager "pagerduty" {
  api_key    = ` + expr + `
  user_email = "bot@example.com"
}
`
}

func TestEnvFunction(t *testing.T) {
	t.Setenv("PAGERGATE_TEST_SET", "from-env")
	t.Setenv("PAGERGATE_TEST_EMPTY", "")
	tests := []struct {
		expr, want string
	}{
		{`env("PAGERGATE_TEST_SET")`, "from-env"},
		{`env("PAGERGATE_TEST_SET", "dflt")`, "from-env"},
		{`env("PAGERGATE_TEST_UNSET", "dflt")`, "dflt"},
		{`"${env("PAGERGATE_TEST_SET")}-suffix"`, "from-env-suffix"},
	}
	for _, tt := range tests {
		cfg := mustParse(t, pagerWithKey(tt.expr))
		if got := pdOf(cfg).APIKey.Value(); got != tt.want {
			t.Errorf("api_key = %s gives %q, want %q", tt.expr, got, tt.want)
		}
	}
}

func TestEnvFunctionUnset(t *testing.T) {
	src := pagerWithKey(`env("PAGERGATE_TEST_UNSET")`)
	_, err := Parse([]byte(src), "env.hcl")
	de := diagError(t, err)
	if len(de.Diags) != 1 {
		t.Fatalf("got %d diagnostics, want 1: %v", len(de.Diags), de)
	}
	d := de.Diags[0]
	if d.Summary != "Error in function call" ||
		!strings.Contains(d.Detail, "pager.pagerduty.api_key") ||
		!strings.Contains(d.Detail, "environment variable PAGERGATE_TEST_UNSET is not set") ||
		!strings.Contains(d.Detail, "PAGERGATE_TEST_UNSET=<value> into /etc/pagergate.env") {
		t.Errorf("diagnostic = %q / %q", d.Summary, d.Detail)
	}
	assertWritten(t, de, src, "env.hcl", `api_key    = env("PAGERGATE_TEST_UNSET")`)
}

func TestEnvFunctionArity(t *testing.T) {
	_, err := Parse([]byte(pagerWithKey(`env("A", "b", "c")`)), "env.hcl")
	de := diagError(t, err)
	if !strings.Contains(de.Error(), "at most one default") {
		t.Errorf("error = %v", de)
	}
}

func TestEnvEmptyValueIsAnError(t *testing.T) {
	t.Setenv("PAGERGATE_TEST_EMPTY", "")
	_, err := Parse([]byte(pagerWithKey(`env("PAGERGATE_TEST_EMPTY")`)), "env.hcl")
	de := diagError(t, err)
	if d := de.Diags[0]; d.Summary != "Empty value" || !strings.Contains(d.Detail, "pager.pagerduty.api_key must not be empty") {
		t.Errorf("diagnostic = %q / %q", d.Summary, d.Detail)
	}
}

func TestFileFunction(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"key":      "secret-key\n",
		"crlf":     "secret-crlf\r\n",
		"two":      "line1\nline2\n\n",
		"bare":     "no-newline",
		"sub/rel2": "relative\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		expr, want string
	}{
		{`file("` + filepath.Join(dir, "key") + `")`, "secret-key"},
		{`file("` + filepath.Join(dir, "crlf") + `")`, "secret-crlf"},
		{`file("` + filepath.Join(dir, "two") + `")`, "line1\nline2\n"},
		{`file("` + filepath.Join(dir, "bare") + `")`, "no-newline"},
		// Relative paths start at the configuration file's directory.
		{`file("sub/rel2")`, "relative"},
	}
	cfgPath := filepath.Join(dir, "pagergate.hcl")
	for _, tt := range tests {
		if err := os.WriteFile(cfgPath, []byte(pagerWithKey(tt.expr)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(cfgPath)
		if err != nil {
			t.Fatalf("Load with %s: %v", tt.expr, err)
		}
		if got := pdOf(cfg).APIKey.Value(); got != tt.want {
			t.Errorf("api_key = %s gives %q, want %q", tt.expr, got, tt.want)
		}
	}
}

func TestFileFunctionMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-key")
	src := pagerWithKey(`file("` + missing + `")`)
	_, err := Parse([]byte(src), "file.hcl")
	de := diagError(t, err)
	if len(de.Diags) != 1 {
		t.Fatalf("got %d diagnostics, want 1: %v", len(de.Diags), de)
	}
	d := de.Diags[0]
	if d.Summary != "Error in function call" || !strings.Contains(d.Detail, missing) ||
		!strings.Contains(d.Detail, "no such file or directory") || !strings.Contains(d.Detail, "pager.pagerduty.api_key") {
		t.Errorf("diagnostic = %q / %q", d.Summary, d.Detail)
	}
	assertWritten(t, de, src, "file.hcl", "api_key    = file(")
}

func TestUnknownFunction(t *testing.T) {
	_, err := Parse([]byte(pagerWithKey(`upper("x")`)), "fn.hcl")
	de := diagError(t, err)
	if d := de.Diags[0]; d.Summary != "Call to unknown function" {
		t.Errorf("diagnostic = %q / %q", d.Summary, d.Detail)
	}
}

// assertWritten checks Write shows file:line of the first line of src
// containing at, and that line itself.
func assertWritten(t *testing.T, de *DiagError, src, filename, at string) {
	t.Helper()
	line := 0
	var text string
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, at) {
			line, text = i+1, l
			break
		}
	}
	if line == 0 {
		t.Fatalf("test bug: %q not in source", at)
	}
	var buf bytes.Buffer
	if err := de.Write(&buf, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	loc := filename + ":" + strconv.Itoa(line) + ":"
	if !strings.Contains(out, loc) {
		t.Errorf("Write() lacks %q:\n%s", loc, out)
	}
	if !strings.Contains(out, text) {
		t.Errorf("Write() lacks the offending line %q:\n%s", text, out)
	}
}
