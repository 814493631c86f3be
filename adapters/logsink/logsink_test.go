package logsink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pagergate/pagergate/config"
)

func TestReloadReopensTheRotatedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pagergate.log")
	l, err := New(config.LogSettings{Output: path, Severity: "info", Format: "json"}, false)
	if err != nil {
		t.Fatal(err)
	}
	l.Log.Info("before rotation")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(config.LogSettings{Output: path, Severity: "info"}); err != nil {
		t.Fatalf("Reload = %v", err)
	}
	l.Log.Info("after rotation")
	_ = l.Sync()
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(old), "before rotation") || strings.Contains(string(old), "after rotation") {
		t.Errorf("rotated file = %q, want only the line before rotation", old)
	}
	if !strings.Contains(string(cur), "after rotation") {
		t.Errorf("reopened file = %q, want the line after rotation", cur)
	}
}

func TestReloadChangesTheSeverity(t *testing.T) {
	l, err := New(config.LogSettings{Output: filepath.Join(t.TempDir(), "log"), Severity: "info"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if l.level.Enabled(zapcore.DebugLevel) {
		t.Fatal("debug enabled at info")
	}
	if err := l.Reload(config.LogSettings{Severity: "debug"}); err != nil {
		t.Fatal(err)
	}
	if l.Level() != "debug" {
		t.Errorf("Level() after reload = %q, want debug", l.Level())
	}
	if err := l.Reload(config.LogSettings{Severity: "loud"}); err == nil {
		t.Error("Reload with a bad severity = nil, want an error")
	}
	if l.Level() != "debug" {
		t.Errorf("a bad severity changed the level to %q", l.Level())
	}
}

func TestDebugFlagOutlivesReload(t *testing.T) {
	l, err := New(config.LogSettings{Output: "stderr", Severity: "error"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(config.LogSettings{Severity: "warn"}); err != nil {
		t.Fatal(err)
	}
	if l.Level() != "debug" {
		t.Errorf("Level() = %q with the debug flag, want debug", l.Level())
	}
}

func TestUnwritableFileIsAnError(t *testing.T) {
	if _, err := New(config.LogSettings{Output: filepath.Join(t.TempDir(), "missing", "log")}, false); err == nil {
		t.Error("New with a file in a missing directory = nil error")
	}
}

// Text logs write durations as the configuration does; JSON logs write
// seconds, for machines.
func TestDurationsPerFormat(t *testing.T) {
	for format, want := range map[string]string{"text": `"retention": "168h0m0s"`, "json": `"retention":604800`} {
		path := filepath.Join(t.TempDir(), "pagergate.log")
		l, err := New(config.LogSettings{Output: path, Severity: "info", Format: format}, false)
		if err != nil {
			t.Fatal(err)
		}
		l.Log.Info("store opened", zap.Duration("retention", 168*time.Hour))
		_ = l.Sync()
		if b, _ := os.ReadFile(path); !strings.Contains(string(b), want) {
			t.Errorf("%s log = %q, want %s", format, b, want)
		}
	}
}
