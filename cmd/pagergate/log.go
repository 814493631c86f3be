package main

import (
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pagergate/pagergate/config"
)

// logging is the process logger with what SIGHUP changes: the level and
// the file it writes to.
type logging struct {
	log   *zap.Logger
	level zap.AtomicLevel
	sink  *sink
}

// sink writes to stderr, stdout or a file that can be reopened (logrotate).
type sink struct {
	mu   sync.Mutex
	path string
	f    *os.File
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
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("reopen log file: %w", err)
	}
	s.mu.Lock()
	old := s.f
	s.f = f
	s.mu.Unlock()
	return old.Close()
}

func newLogging(s config.LogSettings, debug bool) (*logging, error) {
	out := &sink{}
	switch s.Output {
	case "", "stderr":
		out.f = os.Stderr
	case "stdout":
		out.f = os.Stdout
	default:
		f, err := os.OpenFile(s.Output, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, fmt.Errorf("open log file: %w", err)
		}
		out.f, out.path = f, s.Output
	}
	level := zap.NewAtomicLevel()
	if err := level.UnmarshalText([]byte(severity(s.Severity, debug))); err != nil {
		return nil, fmt.Errorf("log severity %q: %w", s.Severity, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.TimeKey = "ts"
	var encoder zapcore.Encoder
	if s.Format == "json" {
		encoder = zapcore.NewJSONEncoder(enc)
	} else {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	}
	core := zapcore.NewCore(encoder, zapcore.AddSync(out), level)
	return &logging{log: zap.New(core, zap.ErrorOutput(zapcore.AddSync(os.Stderr))), level: level, sink: out}, nil
}

func severity(s string, debug bool) string {
	if debug {
		return "debug"
	}
	if s == "" {
		return "info"
	}
	return s
}
