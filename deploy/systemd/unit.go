// Package systemd holds the tests of the systemd unit deploy/pagergate.service
// and the small unit-file reader they use. The tests read the unit as
// systemd does (sections, repeated keys, Exec prefixes), check its keys,
// run its command lines against the real binary the way systemd would, and
// run `systemd-analyze verify` on it when that tool is installed.
package systemd

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Entry is one key=value line of a unit file.
type Entry struct {
	Section, Key, Value string
	Line                int
}

// Unit is a parsed unit file: its entries in file order.
type Unit struct {
	Entries []Entry
}

// Parse reads a unit file. It accepts what systemd accepts for the subset
// a unit like ours uses: [Section] headers, Key=Value lines, comments
// starting with # or ;, blank lines. A line continued with a trailing
// backslash, a key outside a section or a line without '=' is an error.
func Parse(r io.Reader) (*Unit, error) {
	u := &Unit{}
	sc := bufio.NewScanner(r)
	section := ""
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case strings.HasSuffix(line, `\`):
			return nil, fmt.Errorf("line %d: continued lines are not supported", n)
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("line %d: bad section header %q", n, line)
			}
			section = line[1 : len(line)-1]
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not Key=Value", n, line)
		}
		if section == "" {
			return nil, fmt.Errorf("line %d: %q is outside any section", n, line)
		}
		u.Entries = append(u.Entries, Entry{Section: section, Key: strings.TrimSpace(key), Value: strings.TrimSpace(value), Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return u, nil
}

// Values returns every value of key in section, in file order.
func (u *Unit) Values(section, key string) []string {
	var out []string
	for _, e := range u.Entries {
		if e.Section == section && e.Key == key {
			out = append(out, e.Value)
		}
	}
	return out
}

// Sections returns the section names in file order, each once.
func (u *Unit) Sections() []string {
	var out []string
	for _, e := range u.Entries {
		if len(out) == 0 || out[len(out)-1] != e.Section {
			out = append(out, e.Section)
		}
	}
	return out
}

// Exec is one Exec*= command line.
type Exec struct {
	// IgnoreFailure is the "-" prefix: systemd records a failure of the
	// command and goes on as if it had succeeded.
	IgnoreFailure bool
	// Argv is the executable path and its arguments.
	Argv []string
}

// ParseExec reads an Exec*= value. Of systemd's prefixes it knows "-"
// (failure ignored); "@", "+", "!", ":" and "|" are reported as errors
// because the unit does not use them and the tests would misread them.
// Quoting is not supported either.
func ParseExec(v string) (Exec, error) {
	var e Exec
	if strings.HasPrefix(v, "-") {
		e.IgnoreFailure = true
		v = v[1:]
	}
	if v == "" {
		return e, fmt.Errorf("empty command")
	}
	if strings.ContainsAny(v[:1], "@+!:|") {
		return e, fmt.Errorf("%q: prefix %q is not supported here", v, v[:1])
	}
	if strings.ContainsAny(v, `"'`) {
		return e, fmt.Errorf("%q: quoted arguments are not supported here", v)
	}
	e.Argv = strings.Fields(v)
	if !strings.HasPrefix(e.Argv[0], "/") {
		return e, fmt.Errorf("%q: the executable must be an absolute path", v)
	}
	return e, nil
}

// ParseEnvironmentFile reads an EnvironmentFile= file as systemd does for
// plain lines: NAME=value, blank lines and lines starting with # or ;
// skipped, value trimmed, one pair of surrounding quotes removed.
func ParseEnvironmentFile(r io.Reader) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("line %d: %q is not NAME=value", n, line)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		env[name] = value
	}
	return env, sc.Err()
}
