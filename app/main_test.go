package app

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test ends with no goroutine of the use cases left running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
