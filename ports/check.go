package ports

import "errors"

// CheckReport receives what `pagergate check` finds, one line per call,
// from the adapter that owns each check: a nil err passes, an error made
// by Warning warns (the check still passes), any other error fails.
// Before a probe that may wait on the network, its owner calls Start, so
// a slow answer shows what it waits for.
type CheckReport func(name string, err error, detail string)

// Start announces a probe of target that may take a while.
func (r CheckReport) Start(name, target string) { r(name, errStarting, target) }

// errStarting is what Start sends in place of a finding.
var errStarting = errors.New("starting")

// IsStart reports whether a CheckReport call announces a probe (Start)
// rather than its finding.
func IsStart(err error) bool { return err == errStarting }

// warning is a finding that does not fail the check.
type warning struct{ err error }

func (w warning) Error() string { return w.err.Error() }
func (w warning) Unwrap() error { return w.err }

// Warning marks err as a finding that does not fail the check: a
// certificate still valid but expiring soon, a literal secret.
func Warning(err error) error { return warning{err} }

// IsWarning reports whether err was made by Warning.
func IsWarning(err error) bool {
	var w warning
	return errors.As(err, &w)
}
