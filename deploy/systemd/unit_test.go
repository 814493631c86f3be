package systemd

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/deploy/internal/testbin"
)

const (
	unitPath        = "../pagergate.service"
	installedBinary = "/usr/local/bin/pagergate"
	installedConfig = "/etc/pagergate.hcl"
	// envFile is where the unit reads secrets from; README.md names it.
	envFile = "/etc/pagergate.env"
	// waitTimeout bounds every wait on the daemon.
	waitTimeout = 30 * time.Second
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

func readUnit(t *testing.T) *Unit {
	t.Helper()
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", unitPath, err)
	}
	return u
}

// one returns the single value of key; it fails unless there is exactly one.
func one(t *testing.T, u *Unit, section, key string) string {
	t.Helper()
	vs := u.Values(section, key)
	if len(vs) != 1 {
		t.Fatalf("[%s] %s: %d values %q, want exactly one", section, key, len(vs), vs)
	}
	return vs[0]
}

// finalExitCodes are the RestartPreventExitStatus codes.
func finalExitCodes(t *testing.T, u *Unit) []int {
	t.Helper()
	var codes []int
	for _, v := range u.Values("Service", "RestartPreventExitStatus") {
		for _, f := range strings.Fields(v) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("RestartPreventExitStatus=%s: %q is not an exit code", v, f)
			}
			codes = append(codes, n)
		}
	}
	return codes
}

// TestUnitKeys checks what the unit promises: who runs the daemon, how it
// restarts, where secrets come from, and the sandbox.
func TestUnitKeys(t *testing.T) {
	u := readUnit(t)
	if got, want := u.Sections(), []string{"Unit", "Service", "Install"}; !slices.Equal(got, want) {
		t.Errorf("sections %q, want %q", got, want)
	}
	want := map[[2]string]string{
		{"Unit", "After"}:                 "network-online.target",
		{"Unit", "Wants"}:                 "network-online.target",
		{"Service", "Type"}:               "simple",
		{"Service", "User"}:               "pagergate",
		{"Service", "Group"}:              "pagergate",
		{"Service", "Restart"}:            "on-failure",
		{"Service", "ExecReload"}:         "/bin/kill -HUP $MAINPID",
		{"Service", "StateDirectory"}:     "pagergate",
		{"Service", "EnvironmentFile"}:    "-" + envFile,
		{"Service", "Environment"}:        "GOMEMLIMIT=24MiB", // cmd/pagergate defaultMemoryLimit
		{"Service", "ExecStart"}:          installedBinary + " start -c " + installedConfig,
		{"Install", "WantedBy"}:           "multi-user.target",
		{"Service", "TimeoutStopSec"}:     "30s",
		{"Service", "StateDirectoryMode"}: "0700",
	}
	for k, v := range want {
		if got := one(t, u, k[0], k[1]); got != v {
			t.Errorf("[%s] %s=%s, want %s", k[0], k[1], got, v)
		}
	}
	// 2 (bad configuration or usage) is final; 1 (a runtime failure such
	// as every credential expired) must be restarted: tbot may renew.
	if got := finalExitCodes(t, u); !slices.Equal(got, []int{2}) {
		t.Errorf("RestartPreventExitStatus %v, want [2]", got)
	}
	for _, v := range u.Values("Service", "ExecStartPre") {
		e, err := ParseExec(v)
		if err != nil {
			t.Fatalf("ExecStartPre=%s: %v", v, err)
		}
		if e.Argv[0] != installedBinary || !slices.Contains(e.Argv, installedConfig) {
			t.Errorf("ExecStartPre=%s: want %s on %s", v, installedBinary, installedConfig)
		}
		// RestartPreventExitStatus= does not cover ExecStartPre=
		// (systemd.service(5)): a pre-check that may exit 2 must have its
		// failure ignored, or a configuration mistake restarts forever.
		if !e.IgnoreFailure {
			t.Errorf("ExecStartPre=%s: without the \"-\" prefix a bad configuration is restarted every RestartSec", v)
		}
	}
	sandbox := map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
		"ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
		"ProtectClock": "yes", "ProtectHostname": "yes", "RestrictNamespaces": "yes",
		"RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
		"MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"CapabilityBoundingSet":   "", "AmbientCapabilities": "", "UMask": "0077",
	}
	for _, k := range slices.Sorted(maps.Keys(sandbox)) {
		if got := one(t, u, "Service", k); got != sandbox[k] {
			t.Errorf("sandbox: %s=%q, want %q", k, got, sandbox[k])
		}
	}
	if got := u.Values("Service", "SystemCallFilter"); !slices.Equal(got, []string{"@system-service", "~@privileged @resources"}) {
		t.Errorf("SystemCallFilter %q", got)
	}
}

// TestREADMENamesTheUnitFiles keeps the README's install steps in step
// with the unit: the environment file and the config path it reads.
func TestREADMENamesTheUnitFiles(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{envFile, installedConfig, "deploy/pagergate.service", "RestartPreventExitStatus"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("README.md does not mention %s", want)
		}
	}
}

// TestExecFlagsInUsage checks that every flag the unit passes is one the
// binary documents for that subcommand (the reference plugin's unit
// passed a flag its binary did not define).
func TestExecFlagsInUsage(t *testing.T) {
	u := readUnit(t)
	bin := testbin.Pagergate(t)
	out, err := exec.Command(bin, "help").Output()
	if err != nil {
		t.Fatalf("pagergate help: %v", err)
	}
	lines := append(u.Values("Service", "ExecStartPre"), u.Values("Service", "ExecStart")...)
	for _, v := range lines {
		e, err := ParseExec(v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if len(e.Argv) < 2 {
			t.Fatalf("%s: no subcommand", v)
		}
		sub := e.Argv[1]
		usage := usageOf(string(out), sub)
		if usage == "" {
			t.Errorf("%s: subcommand %q is not in `pagergate help`:\n%s", v, sub, out)
			continue
		}
		// The subcommand's own help, when it prints one, counts too.
		own, _ := exec.Command(bin, sub, "--help").CombinedOutput()
		usage += "\n" + string(own)
		for _, a := range e.Argv[2:] {
			if !strings.HasPrefix(a, "-") {
				continue
			}
			if !regexp.MustCompile(`(^|[\s\[,|])` + regexp.QuoteMeta(a) + `([\s\]=,|]|$)`).MatchString(usage) {
				t.Errorf("%s: flag %s is not in the usage of %q:\n%s", v, a, sub, usage)
			}
		}
	}
}

// usageOf returns the line of the top-level usage that documents sub.
func usageOf(help, sub string) string {
	for _, l := range strings.Split(help, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "pagergate" && f[1] == sub {
			return l
		}
	}
	return ""
}

// host is a file tree standing in for the machine the unit runs on: the
// binary, the config, the environment file, certificates.
type host struct {
	t    *testing.T
	unit *Unit
	bin  string
	dir  string
	cfg  string
	env  []string // the service's environment, as systemd builds it
}

func newHost(t *testing.T) *host {
	t.Helper()
	h := &host{t: t, unit: readUnit(t), bin: testbin.Pagergate(t), dir: t.TempDir()}
	h.cfg = filepath.Join(h.dir, "pagergate.hcl")
	return h
}

// writeEnvFile writes the environment file and loads it the way the unit's
// EnvironmentFile= does.
func (h *host) writeEnvFile(content string) {
	h.t.Helper()
	path := filepath.Join(h.dir, "pagergate.env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	vars, err := ParseEnvironmentFile(f)
	if err != nil {
		h.t.Fatalf("environment file: %v", err)
	}
	// systemd starts services with a clean environment: PATH and the file.
	h.env = []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		h.env = append(h.env, k+"="+vars[k])
	}
}

// command returns the unit's command line with the installed paths moved
// into this host's tree.
func (h *host) command(value string) (Exec, *exec.Cmd) {
	h.t.Helper()
	e, err := ParseExec(value)
	if err != nil {
		h.t.Fatalf("%s: %v", value, err)
	}
	argv := slices.Clone(e.Argv)
	for i, a := range argv {
		switch a {
		case installedBinary:
			argv[i] = h.bin
		case installedConfig:
			argv[i] = h.cfg
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = h.env
	return e, cmd
}

// startPre runs every ExecStartPre as systemd does before a start. It
// returns the exit code of the first one whose failure is not ignored:
// systemd stops there and does not start the daemon (refused = true).
func (h *host) startPre() (code int, refused bool) {
	h.t.Helper()
	for _, v := range h.unit.Values("Service", "ExecStartPre") {
		e, cmd := h.command(v)
		out, err := cmd.CombinedOutput()
		code := exitCode(h.t, err)
		h.t.Logf("ExecStartPre=%s: exit %d (ignored: %v)\n%s", v, code, e.IgnoreFailure, out)
		if code != 0 && !e.IgnoreFailure {
			return code, true
		}
	}
	return 0, false
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		t.Fatal(err)
		return -1
	}
}
