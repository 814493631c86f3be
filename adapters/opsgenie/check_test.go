package opsgenie

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

type checkLine struct {
	name, detail string
	err          error
}

// runCheck runs the check of a fake with opts and returns its lines.
func runCheck(t *testing.T, opts fakeopsgenie.Options, user string, p config.PagerSettings, rules []string) []checkLine {
	t.Helper()
	fake := fakeopsgenie.New(opts)
	t.Cleanup(func() { _ = fake.Close() })
	fake.AddUser("bot@example.com", "Bot")
	if _, err := fake.AddSchedule("ops_schedule", ""); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{APIKey: fakeopsgenie.DefaultAPIKey, APIURL: testAPIURL, User: user,
		HTTPClient: &http.Client{Transport: handlerTransport{h: fake.Handler()}}, RequestTimeout: time.Second}, zaptest.NewLogger(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []checkLine
	c.check(t.Context(), p, rules, func(name string, err error, detail string) { lines = append(lines, checkLine{name, detail, err}) })
	return lines
}

func line(t *testing.T, lines []checkLine, name string) checkLine {
	t.Helper()
	for _, l := range lines {
		if l.name == name {
			return l
		}
	}
	t.Fatalf("no %q line in %+v", name, lines)
	return checkLine{}
}

func TestCheck(t *testing.T) {
	hook := fakeopsgenie.WebhookOptions{URL: "https://pagergate.example.com/opsgenie/actions", IntegrationName: "pagergate"}
	lines := runCheck(t, fakeopsgenie.Options{Webhook: hook}, "bot@example.com",
		config.PagerSettings{DefaultNotifyService: "ops_schedule"}, []string{"team:nope"})
	for _, name := range []string{"pager API key", "pager alert user", "pager default service", "pager webhook integration"} {
		if l := line(t, lines, name); l.err != nil {
			t.Errorf("%s: %v", name, l.err)
		}
	}
	if l := line(t, lines, "pager rule service"); l.err == nil {
		t.Errorf("unknown rule service passed: %+v", l)
	}
	if l := line(t, lines, "pager webhook integration"); !strings.Contains(l.detail, `"pagergate" is enabled`) {
		t.Errorf("integration line = %+v", l)
	}

	lines = runCheck(t, fakeopsgenie.Options{}, "nobody@example.com", config.PagerSettings{}, nil)
	if l := line(t, lines, "pager alert user"); l.err == nil {
		t.Errorf("unknown alert user passed: %+v", l)
	}
	if l := line(t, lines, "pager webhook integration"); l.err == nil || !strings.Contains(l.err.Error(), "no enabled Webhook integration") {
		t.Errorf("without a webhook integration: %+v", l)
	}

	lines = runCheck(t, fakeopsgenie.Options{NoConfigurationAccess: true}, "pagergate", config.PagerSettings{}, nil)
	if l := line(t, lines, "pager webhook integration"); l.err != nil || !strings.Contains(l.detail, "not checked") {
		t.Errorf("key without configuration access: %+v, want a pass that says not checked", l)
	}
	if l := line(t, lines, "pager alert user"); l.err != nil || !strings.Contains(l.detail, "display name") {
		t.Errorf("display name alert user: %+v", l)
	}

	lines = runCheck(t, fakeopsgenie.Options{APIKey: "another"}, "pagergate", config.PagerSettings{}, nil)
	if len(lines) != 1 || lines[0].err == nil {
		t.Errorf("bad key: %+v, want one failing line", lines)
	}
}

func TestConfigFrom(t *testing.T) {
	s := &config.OpsgenieSettings{APIKey: "k", APIURL: "https://api.eu.opsgenie.com", AlertUser: "u", ApproveAction: "Yes", DenyAction: "No", AliasPrefix: "p/"}
	c := ConfigFrom(s)
	if c.APIKey != "k" || c.APIURL != s.APIURL || c.User != "u" || c.AliasPrefix != "p/" || len(c.Actions) != 2 || c.Actions[0] != "Yes" {
		t.Errorf("ConfigFrom = %+v", c)
	}
}

// TestCheckTriesOnce: `pagergate check` announces the Opsgenie probe and
// calls the API once, without the daemon's retries, even on a 503 that
// the daemon would retry; a failing key stops the check there.
func TestCheckTriesOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	p := config.PagerSettings{Vendor: &config.OpsgenieSettings{APIKey: "k", APIURL: srv.URL, AlertUser: "pagergate",
		RequestTimeout: 5 * time.Second}}
	var started, failed int
	Check(t.Context(), p, nil, func(name string, err error, _ string) {
		switch {
		case ports.IsStart(err):
			started++
		case err != nil:
			failed++
		}
	})
	if started != 1 || failed != 1 {
		t.Errorf("check: %d start and %d FAIL lines, want 1 and 1", started, failed)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("check made %d calls on a 503, want 1 (no retry)", n)
	}
}
