//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gravitational/teleport/api/types"
)

// chromiumPath finds Debian's chromium; CI installs it (.ci/run), so there a
// missing browser fails the test instead of skipping it.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed here; CI installs it and runs this test")
	return ""
}

// Scenario 19: a responder approves in the fake PagerDuty's web page in a
// real browser; the request is approved and the page shows the incident
// resolved.
func TestScenario19ApproveInTheWebPageWithARealBrowser(t *testing.T) {
	browser := chromiumPath(t)
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig())
	defer d.stop()
	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "browser test")
	inc := e.waitIncident(id)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	sel := "#" + inc.ID
	if err := chromedp.Run(ctx,
		chromedp.Navigate(e.pd.URL()+"/"),
		chromedp.WaitVisible(sel+" button[value=approve]", chromedp.ByQuery),
		chromedp.SetValue(sel+" select[name=responder]", carol, chromedp.ByQuery),
		chromedp.SetValue(sel+" input[name=note]", "clicked in a browser", chromedp.ByQuery),
		chromedp.Click(sel+" button[value=approve]", chromedp.ByQuery),
		chromedp.WaitVisible(sel+" .result", chromedp.ByQuery),
	); err != nil {
		t.Fatalf("click Approve: %v", err)
	}
	r := e.waitState(id, types.RequestState_APPROVED)
	if got := r.GetResolveReason(); got != "Approved in PagerDuty by "+carol+": clicked in a browser" {
		t.Errorf("resolve reason = %q", got)
	}
	e.waitResolved(id)

	// The page, reloaded, shows the incident resolved with its notes.
	var status string
	var shot []byte
	if err := chromedp.Run(ctx,
		chromedp.Navigate(e.pd.URL()+"/"),
		chromedp.Text(sel+" .st", &status, chromedp.ByQuery),
		chromedp.FullScreenshot(&shot, 80),
	); err != nil {
		t.Fatalf("reload the page: %v", err)
	}
	if status != "resolved" {
		t.Errorf("page shows status %q, want resolved", status)
	}
	out := filepath.Join(t.TempDir(), "fakepd.png")
	if err := os.WriteFile(out, shot, 0o600); err == nil {
		t.Logf("screenshot: %s (%d bytes)", out, len(shot))
	}
}
