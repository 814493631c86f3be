package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/help")

// subcommands are every subcommand of pagergate, with its flags.
var subcommands = map[string][]string{
	"start":          {"-c, --config FILE", "-d, --debug"},
	"configure":      nil,
	"check":          {"-c, --config FILE", "--offline", "--timeout DURATION"},
	"migrate":        {"-o OUT", "--force"},
	"fake-pagerduty": {"--listen ADDRESS", "--seed FILE", "--api-key TOKEN", "--webhook-url URL", "--webhook-secret SECRET", "--webhook-ca FILE", "--rate-limit N"},
	"version":        nil,
	"help":           nil,
}

// TestHelpGolden: every subcommand answers -h, --help and `help NAME` the
// same, on stdout with exit code 0: its usage, its flags with their
// defaults, and an example (testdata/help/NAME.golden; -update rewrites).
func TestHelpGolden(t *testing.T) {
	for name, flags := range subcommands {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(name, "--help")
			if code != exitOK || errOut != "" {
				t.Fatalf("%s --help = %d, stderr %q", name, code, errOut)
			}
			for _, args := range [][]string{{name, "-h"}, {"help", name}} {
				if c, o, _ := runCLI(args...); c != exitOK || o != out {
					t.Errorf("%q = %d and output\n%s\nwant 0 and the output of --help", args, c, o)
				}
			}
			for _, want := range append([]string{"Usage: pagergate " + name, "Example:\n  pagergate "}, flags...) {
				if !strings.Contains(out, want) {
					t.Errorf("%s --help lacks %q:\n%s", name, want, out)
				}
			}
			golden(t, filepath.Join("testdata", "help", name+".golden"), out)
		})
	}
	code, out, _ := runCLI("help")
	if code != exitOK {
		t.Fatalf("help = %d", code)
	}
	for name := range subcommands {
		if !strings.Contains(out, "pagergate "+name) {
			t.Errorf("the program's usage does not name %s:\n%s", name, out)
		}
	}
	golden(t, filepath.Join("testdata", "help", "pagergate.golden"), out)
}

// TestHelpShowsDefaults: a default changed in the code shows in the help
// (the golden files are not the source of the text).
func TestHelpShowsDefaults(t *testing.T) {
	for args, want := range map[string]string{
		"check --help":          "(default 30s)",
		"start --help":          "(default /etc/pagergate.hcl)",
		"fake-pagerduty --help": "(default 127.0.0.1:8090)",
	} {
		if _, out, _ := runCLI(strings.Fields(args)...); !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", args, want, out)
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
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
