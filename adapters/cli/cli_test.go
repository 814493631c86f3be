package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pagergate/pagergate/ports"
)

func TestConfigFlag(t *testing.T) {
	const def = "/etc/pagergate.hcl"
	tests := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{nil, def, ""},
		{[]string{"a.hcl"}, "a.hcl", ""},
		{[]string{"-c", "a.hcl"}, "a.hcl", ""},
		{[]string{"--config", "a.hcl", "a.hcl"}, "a.hcl", ""},
		{[]string{"a.hcl", "-d"}, "a.hcl", ""},
		// The default given explicitly is still a second file.
		{[]string{"-c", def, "a.hcl"}, "", "two configuration files"},
		{[]string{"a.hcl", "b.hcl"}, "", `unexpected argument "b.hcl"`},
		{[]string{"--", "a.hcl"}, "a.hcl", ""},
	}
	for _, tt := range tests {
		fs := Flags("check")
		fs.Bool("d", false, "")
		got, err := ConfigFlag(fs, tt.args, &bytes.Buffer{}, def)
		var ue UsageError
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("ConfigFlag(%q) = %q, %v; want %q", tt.args, got, err, tt.want)
		case tt.wantErr != "" && (!errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ConfigFlag(%q) = %q, %v; want a UsageError %q", tt.args, got, err, tt.wantErr)
		}
	}
}

func TestHelpGroupsAliases(t *testing.T) {
	fs := Flags("start")
	v := fs.Bool("d", false, "debug logging")
	fs.BoolVar(v, "debug", false, "")
	fs.Duration("timeout", 0, "bound")
	var b bytes.Buffer
	Help(&b, "start", fs)
	out := b.String()
	if !strings.Contains(out, "\n  -d, --debug ") || strings.Contains(out, "\n  --debug") {
		t.Errorf("aliases not on one line:\n%s", out)
	}
	if strings.Contains(out, "(default 0s)") || strings.Contains(out, "(default false)") {
		t.Errorf("zero defaults shown:\n%s", out)
	}
}

func TestCheckLines(t *testing.T) {
	var b bytes.Buffer
	c := NewCheckLines(&b)
	r := ports.CheckReport(c.Report)
	r.Start("teleport", "dialing x:1")
	r("teleport", nil, "cluster c")
	r("cert", ports.Warning(errors.New("expires in 3 days")), "")
	r("pager", errors.New("refused"), "")
	want := "...   teleport               dialing x:1\n" +
		"ok    teleport               cluster c\n" +
		"warn  cert                   expires in 3 days\n" +
		"FAIL  pager                  refused\n"
	if b.String() != want || c.Failed != 1 {
		t.Errorf("lines:\n%s\nfailed %d; want\n%s\nfailed 1", b.String(), c.Failed, want)
	}
}
