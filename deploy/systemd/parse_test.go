package systemd

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	u, err := Parse(strings.NewReader("# c\n[Unit]\nA=1\n\n; c\n[Service]\nB = two words \nB=\nC=x=y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Sections(); !slices.Equal(got, []string{"Unit", "Service"}) {
		t.Errorf("sections %q", got)
	}
	if got := u.Values("Service", "B"); !slices.Equal(got, []string{"two words", ""}) {
		t.Errorf("B = %q, want both values in order", got)
	}
	if got := u.Values("Service", "C"); !slices.Equal(got, []string{"x=y"}) {
		t.Errorf("C = %q", got)
	}
	if got := u.Values("Unit", "B"); got != nil {
		t.Errorf("B leaked into [Unit]: %q", got)
	}
	for _, bad := range []string{"A=1\n", "[Unit]\nnot a pair\n", "[Unit\n", "[Unit]\nA=1 \\\n 2\n"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestParseExec(t *testing.T) {
	e, err := ParseExec("-/usr/bin/x a  -b")
	if err != nil || !e.IgnoreFailure || !slices.Equal(e.Argv, []string{"/usr/bin/x", "a", "-b"}) {
		t.Errorf("got %+v, %v", e, err)
	}
	e, err = ParseExec("/usr/bin/x")
	if err != nil || e.IgnoreFailure {
		t.Errorf("got %+v, %v", e, err)
	}
	for _, bad := range []string{"", "-", "+/usr/bin/x", "@/usr/bin/x y", "x", `/usr/bin/x "a b"`} {
		if _, err := ParseExec(bad); err == nil {
			t.Errorf("ParseExec(%q) accepted", bad)
		}
	}
}

func TestParseEnvironmentFile(t *testing.T) {
	env, err := ParseEnvironmentFile(strings.NewReader("# c\nA=1\n B = two words \nC=\"quoted\"\nD='q'\nE=\"half\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "quoted", "D": "q", "E": `"half`}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, bad := range []string{"A\n", "=1\n", "A B=1\n"} {
		if _, err := ParseEnvironmentFile(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseEnvironmentFile(%q) accepted", bad)
		}
	}
}
