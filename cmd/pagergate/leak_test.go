package main

import (
	"testing"

	"go.uber.org/goleak"
)

// The daemon's run, reload and stop leave no goroutine behind: every test
// of the package ends with none of ours running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
