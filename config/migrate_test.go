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

func TestMigrateBadTOML(t *testing.T) {
	_, _, err := Migrate([]byte("[teleport\naddr = 1"), "broken.toml")
	if err == nil || !strings.Contains(err.Error(), "broken.toml") {
		t.Errorf("Migrate(bad TOML) error = %v, want one naming the file", err)
	}
	_, _, err = Migrate([]byte("[teleport]\nrefresh_identity = \"yes\"\n"), "typed.toml")
	if err == nil {
		t.Errorf("Migrate(wrong type) succeeded, want an error")
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
