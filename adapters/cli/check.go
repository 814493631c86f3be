package cli

import (
	"fmt"
	"io"

	"github.com/pagergate/pagergate/ports"
)

// CheckLines prints the findings of `pagergate check`, one line each:
// "... " when a probe starts, then "ok  ", "warn" or "FAIL", the check's
// name and the detail or the error.
type CheckLines struct {
	w io.Writer
	// Failed counts the FAIL lines.
	Failed int
}

// NewCheckLines prints to w.
func NewCheckLines(w io.Writer) *CheckLines { return &CheckLines{w: w} }

// Report is the ports.CheckReport the adapters' checks call.
func (c *CheckLines) Report(name string, err error, detail string) {
	status := "ok  "
	switch {
	case ports.IsStart(err):
		status = "... "
	case ports.IsWarning(err):
		status, detail = "warn", err.Error()
	case err != nil:
		c.Failed++
		status, detail = "FAIL", err.Error()
	}
	fmt.Fprintf(c.w, "%s  %-22s %s\n", status, name, detail)
}
