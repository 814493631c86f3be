package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/help.golden")

// TestHelpGolden: -h and --help print the usage, the flags with their
// defaults and an example, exit 0 (testdata/help.golden; -update
// rewrites it).
func TestHelpGolden(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, &out, &errOut); code != 0 || errOut.Len() > 0 {
		t.Fatalf("--help = %d, stderr %q", code, errOut.String())
	}
	var short bytes.Buffer
	if code := run([]string{"-h"}, &short, &errOut); code != 0 || short.String() != out.String() {
		t.Errorf("-h = %d:\n%s\nwant the output of --help", code, short.String())
	}
	for _, want := range []string{"Usage: pagergate-demo", "--for DURATION", "--pagergate BINARY", "Example:\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
	if *update {
		if err := os.WriteFile("testdata/help.golden", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/help.golden")
	if err != nil || string(want) != out.String() {
		t.Errorf("testdata/help.golden differs (go test -update rewrites it): %v\n--- got\n%s\n--- want\n%s", err, out.String(), want)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"--nope"}, {"--for", "soon"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "pagergate-demo --help") {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and a pointer to --help", args, code, errOut.String())
		}
	}
}
