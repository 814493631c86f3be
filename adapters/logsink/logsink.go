package logsink

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pagergate/pagergate/config"
)

// Logger is the process logger with what a reload changes: the level and
// the file it writes to.
type Logger struct {
	// Log is the logger to hand to every component.
	Log   *zap.Logger
	level zap.AtomicLevel
	out   *sink
	debug bool
}

// New opens the output of s and returns its logger. With debug, the
// severity is "debug" whatever s says, now and after every reload.
func New(s config.LogSettings, debug bool) (*Logger, error) {
	out, err := open(s.Output)
	if err != nil {
		return nil, err
	}
	l := &Logger{level: zap.NewAtomicLevel(), out: out, debug: debug}
	if err := l.setLevel(s.Severity); err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.TimeKey = "ts"
	var encoder zapcore.Encoder
	if s.Format == "json" {
		encoder = zapcore.NewJSONEncoder(enc)
	} else {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		// Durations as the configuration writes them ("168h0m0s", "1.5s"),
		// not a bare number of seconds; JSON keeps seconds for machines.
		enc.EncodeDuration = zapcore.StringDurationEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	}
	core := zapcore.NewCore(encoder, zapcore.AddSync(out), l.level)
	l.Log = zap.New(core, zap.ErrorOutput(zapcore.AddSync(os.Stderr)))
	return l, nil
}

// Reload reopens the log file (a no-op for stderr and stdout) and applies
// the severity of next. The output path and format of next are not
// applied: they need a restart (config.RestartNeeded says so).
func (l *Logger) Reload(next config.LogSettings) error {
	return errors.Join(l.Reopen(), l.setLevel(next.Severity))
}

// Reopen reopens the log file, after logrotate moved it; a no-op for
// stderr and stdout.
func (l *Logger) Reopen() error { return l.out.reopen() }

// Level is the current severity, such as "info".
func (l *Logger) Level() string { return l.level.String() }

// Sync flushes the output.
func (l *Logger) Sync() error { return l.Log.Sync() }

func (l *Logger) setLevel(severity string) error {
	switch {
	case l.debug:
		severity = "debug"
	case severity == "":
		severity = "info"
	}
	if err := l.level.UnmarshalText([]byte(severity)); err != nil {
		return fmt.Errorf("log severity %q: %w", severity, err)
	}
	return nil
}

// sink writes to stderr, stdout or a file that can be reopened.
type sink struct {
	mu   sync.Mutex
	path string // "" for stderr and stdout
	f    *os.File
}

func open(output string) (*sink, error) {
	switch output {
	case "", "stderr":
		return &sink{f: os.Stderr}, nil
	case "stdout":
		return &sink{f: os.Stdout}, nil
	}
	f, err := openFile(output)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return &sink{path: output, f: f}, nil
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Write(p)
}

func (s *sink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path == "" {
		return nil // syncing a terminal fails on some systems; nothing to flush
	}
	return s.f.Sync()
}

// reopen opens the log file again (after rotation); no-op for std streams.
func (s *sink) reopen() error {
	if s.path == "" {
		return nil
	}
	f, err := openFile(s.path)
	if err != nil {
		return fmt.Errorf("reopen log file: %w", err)
	}
	s.mu.Lock()
	old := s.f
	s.f = f
	s.mu.Unlock()
	return old.Close()
}
