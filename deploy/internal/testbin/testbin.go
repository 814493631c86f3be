// Package testbin builds the pagergate binary for the deploy tests: the
// same static build as `make build`, once per test binary and platform.
package testbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Version is the version string stamped into binaries built here.
const Version = "v0.0.0-deploytest"

var (
	mu     sync.Mutex
	built  = map[string]string{}
	tmpDir string
)

// Pagergate returns the path of a static pagergate binary for the host's
// architecture on Linux, built on first use (the build cache makes later
// test runs cheap).
func Pagergate(t testing.TB) string {
	t.Helper()
	return Build(t, "linux", runtime.GOARCH)
}

// Build returns a static pagergate binary for goos/goarch.
func Build(t testing.TB, goos, goarch string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	key := goos + "/" + goarch
	if p, ok := built[key]; ok {
		return p
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if tmpDir == "" {
		// Shared by every test of the package; Cleanup removes it.
		if tmpDir, err = os.MkdirTemp("", "pagergate-deploytest-"); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(tmpDir, "pagergate-"+goos+"-"+goarch)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+Version, "-o", out, "./cmd/pagergate")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pagergate for %s: %v\n%s", key, err, b)
	}
	built[key] = out
	return out
}

// ModuleRoot is the directory holding the module's go.mod, found upwards
// from the working directory (a test runs in its package directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Cleanup removes the binaries built so far; call it from TestMain after
// the tests ran.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
		tmpDir, built = "", map[string]string{}
	}
}
