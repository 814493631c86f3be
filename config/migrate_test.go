package config

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/migrate")

// TestMigrateGolden converts each testdata/migrate/*.toml and compares the
// HCL with the .hcl golden file and the warnings with the .warnings one.
// The output must Parse, with the secrets it reads from env() and file()
// provided.
func TestMigrateGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "migrate", "*.toml"))
	if err != nil || len(inputs) < 8 {
		t.Fatalf("testdata/migrate holds %d inputs (%v)", len(inputs), err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".toml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			out, warnings, err := Migrate(src, "teleport-pagerduty.toml")
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			warnText := strings.Join(warnings, "\n")
			if len(warnings) > 0 {
				warnText += "\n"
			}
			base := strings.TrimSuffix(in, ".toml")
			golden(t, base+".hcl", string(out))
			golden(t, base+".warnings", warnText)

			if strings.Contains(string(out), `"key"`) || strings.Contains(string(out), `"password"`) {
				t.Errorf("a secret was copied into the output:\n%s", out)
			}

			t.Setenv(MigrateAPIKeyEnv, "pd-key")
			t.Setenv(MigratePasswordEnv, "pw")
			t.Setenv(MigrateSecretEnv, "wh")
			hcl := withFiles(t, string(out))
			_, err = Parse([]byte(hcl), name+".hcl")
			if strings.Contains(warnText, "is not an email address") {
				if err == nil || !strings.Contains(err.Error(), "pager.pagerduty.user_email") {
					t.Errorf("Parse = %v, want the user_email problem the warning announced", err)
				}
				return
			}
			if err != nil {
				t.Errorf("migrated HCL does not parse: %v\n%s", err, hcl)
			}
		})
	}
}

// withFiles writes a temporary file for each file("...") in hcl and points
// the call at it.
func withFiles(t *testing.T, hcl string) string {
	t.Helper()
	dir := t.TempDir()
	n := 0
	return regexp.MustCompile(`file\("[^"]*"\)`).ReplaceAllStringFunc(hcl, func(string) string {
		n++
		p := filepath.Join(dir, strconv.Itoa(n))
		if err := os.WriteFile(p, []byte("from-file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return `file(` + strconv.Quote(p) + `)`
	})
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestMigrateBadTOML: a TOML mistake is a configuration mistake, a
// *DiagError at file:line:col (exit code 2), like an HCL one.
func TestMigrateBadTOML(t *testing.T) {
	for src, want := range map[string]string{
		"[teleport\naddr = 1": "broken.toml:1:10: Invalid teleport-pagerduty.toml; expected '.' or ']'",
		"[teleport]\naddr = \"x\"\nrefresh_identity = \"yes\"\n": "broken.toml:3:1: Invalid teleport-pagerduty.toml; teleport.refresh_identity: incompatible types",
		"[log]\n  severity = 3\n":                                "broken.toml:2:3: Invalid teleport-pagerduty.toml; log.severity: incompatible types",
	} {
		_, _, err := Migrate([]byte(src), "broken.toml")
		if !IsDiagError(err) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Migrate(%q) = %v, want a *DiagError %q...", src, err, want)
		}
	}
}

func TestMigrateEmpty(t *testing.T) {
	out, warnings, err := Migrate(nil, "empty.toml")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warnings, "\n")
	for _, want := range []string{"teleport.addr: missing", "teleport: credentials incomplete", "pagerduty.api_key: missing", "pagerduty.user_email: missing"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	if !strings.Contains(string(out), `pager "pagerduty"`) {
		t.Errorf("output = %s", out)
	}
}

func TestMigrateSeverities(t *testing.T) {
	for in, want := range map[string]string{"INFO": "info", "Debug": "debug", "WARNING": "warn", "error": "error"} {
		out, warnings, err := Migrate([]byte("[log]\nseverity = \""+in+"\"\n"), "t.toml")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `severity = "`+want+`"`) {
			t.Errorf("severity %q gave\n%s", in, out)
		}
		for _, w := range warnings {
			if strings.HasPrefix(w, "log.") {
				t.Errorf("severity %q warned %q", in, w)
			}
		}
	}
	_, warnings, _ := Migrate([]byte("[log]\nseverity = \"TRACE\"\n"), "t.toml")
	if !strings.Contains(strings.Join(warnings, "\n"), `log.severity: "TRACE"`) {
		t.Errorf("unknown severity not warned: %v", warnings)
	}
}

// TestMigrateKeepsAutoApproval: what the migrated file does about
// auto-approval is what the reference did with its file, or a behaviour
// change says otherwise. pagergate's default is on, so a first-generation
// file without auto_approve = true must come out off.
func TestMigrateKeepsAutoApproval(t *testing.T) {
	tests := []struct {
		name, toml  string
		enabled     bool
		wantChange  string // in a BehaviourChange warning; "" for none
		wantComment string // in the HCL
	}{
		{"first generation, no auto_approve", "[pagerduty]\nuser_email = \"bot@example.com\"\nservice_id = \"PIJ90N7\"\n",
			false, "did not without auto_approve = true", "first generation"},
		{"first generation, auto_approve = false", "[pagerduty]\nuser_email = \"bot@example.com\"\nauto_approve = false\n",
			false, "did not without auto_approve = true", "first generation"},
		{"first generation, auto_approve = true", "[pagerduty]\nuser_email = \"bot@example.com\"\nauto_approve = true\n",
			true, "", "first generation"},
		{"annotation generation", "[pagerduty]\nuser_email = \"bot@example.com\"\nservices = \"pagerduty_services\"\n",
			true, "require_active_incident", "annotation generation"},
	}
	t.Setenv(MigrateAPIKeyEnv, "pd-key")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "[teleport]\naddr = \"teleport.example.com:443\"\nidentity = \"/var/lib/teleport/identity\"\n" + tt.toml
			out, warnings, err := Migrate([]byte(src), "teleport-pagerduty.toml")
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse([]byte(withFiles(t, string(out))), "migrated.hcl")
			if err != nil {
				t.Fatalf("migrated HCL does not parse: %v\n%s", err, out)
			}
			if cfg.AutoApprove.Enabled != tt.enabled || cfg.AutoApprove.RequireActiveIncident {
				t.Errorf("auto_approve = %+v, want enabled %v without require_active_incident\n%s", cfg.AutoApprove, tt.enabled, out)
			}
			var changes []string
			for _, w := range warnings {
				if strings.HasPrefix(w, BehaviourChange) {
					changes = append(changes, w)
				}
			}
			switch {
			case tt.wantChange == "" && len(changes) > 0:
				t.Errorf("behaviour changes %q, want none", changes)
			case tt.wantChange != "" && (len(changes) != 1 || !strings.Contains(changes[0], tt.wantChange)):
				t.Errorf("behaviour changes %q, want one about %q", changes, tt.wantChange)
			}
			if !strings.Contains(string(out), tt.wantComment) {
				t.Errorf("the output does not name the %s:\n%s", tt.wantComment, out)
			}
		})
	}
}

// Two spellings of one setting: the same value is carried over quietly,
// different values carry over the first with a warning about the second.
func TestMigrateTwoSpellingsOfASetting(t *testing.T) {
	for _, tc := range []struct {
		name, legacy string
		warned       bool
	}{{"same", "/a.crt", false}, {"different", "/b.crt", true}} {
		src := "[http]\nhttps_cert_file = \"" + tc.legacy + "\"\n[http.tls]\ncert_file = \"/a.crt\"\nkey_file = \"/a.key\"\n"
		out, warnings, err := Migrate([]byte(src), "t.toml")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"/a.crt"`) || strings.Contains(string(out), `"/b.crt"`) {
			t.Errorf("%s: output carries over the wrong certificate:\n%s", tc.name, out)
		}
		warned := strings.Contains(strings.Join(warnings, "\n"), "http.https_cert_file: not carried over")
		if warned != tc.warned {
			t.Errorf("%s: warned %v, want %v: %q", tc.name, warned, tc.warned, warnings)
		}
	}
}
