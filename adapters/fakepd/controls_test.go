package fakepd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 2})
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	e.fake.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	for i := range 2 {
		a := e.do("GET", "/abilities", nil)
		if a.status != http.StatusOK {
			t.Fatalf("request %d = %d, want 200", i, a.status)
		}
		if got, want := a.header.Get("ratelimit-remaining"), strconv.Itoa(1-i); got != want {
			t.Errorf("ratelimit-remaining = %q, want %q", got, want)
		}
	}
	advance(20 * time.Second)
	a := e.do("GET", "/abilities", nil)
	wantError(t, a, http.StatusTooManyRequests, CodeRateLimited, "")
	if got := a.header.Get("Retry-After"); got != "40" {
		t.Errorf("Retry-After = %q, want 40", got)
	}
	if got := a.header.Get("ratelimit-reset"); got != "40" {
		t.Errorf("ratelimit-reset = %q, want 40", got)
	}
	advance(40 * time.Second)
	if a := e.do("GET", "/abilities", nil); a.status != http.StatusOK {
		t.Fatalf("after the window = %d, want 200", a.status)
	}
	e.fake.SetRateLimit(0)
	for range 5 {
		if a := e.do("GET", "/abilities", nil); a.status != http.StatusOK {
			t.Fatalf("without limit = %d", a.status)
		}
	}
	if got := e.fake.CallsByStatus()["GET /abilities"]; got[429] != 1 || got[200] != 8 {
		t.Errorf("CallsByStatus = %v", got)
	}
}

func TestFailNext(t *testing.T) {
	e := newEnv(t, Options{})
	e.fake.FailNext(2, http.StatusServiceUnavailable)
	wantError(t, e.do("GET", "/users", nil), http.StatusServiceUnavailable, CodeInternal, "")
	wantError(t, e.do("POST", "/incidents", map[string]any{}, "From", bot), http.StatusServiceUnavailable, CodeInternal, "")
	if a := e.do("GET", "/users", nil); a.status != http.StatusOK {
		t.Fatalf("third request = %d, want 200", a.status)
	}
	e.fake.FailNext(1, http.StatusTooManyRequests)
	a := e.do("GET", "/users", nil)
	wantError(t, a, http.StatusTooManyRequests, CodeRateLimited, "")
	if a.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", a.header.Get("Retry-After"))
	}
}

func TestRandomFaultsAreSeeded(t *testing.T) {
	run := func() []int {
		e := newEnv(t, Options{})
		e.fake.InjectFaults(Faults{Rate429: 0.3, Rate500: 0.3, RetryAfter: 3 * time.Second, Seed: 42})
		var got []int
		for range 40 {
			a := e.do("GET", "/abilities", nil)
			if a.status == http.StatusTooManyRequests && a.header.Get("Retry-After") != "3" {
				t.Errorf("injected 429 Retry-After = %q, want 3", a.header.Get("Retry-After"))
			}
			got = append(got, a.status)
		}
		return got
	}
	first, second := run(), run()
	count := map[int]int{}
	for i, st := range first {
		count[st]++
		if second[i] != st {
			t.Fatalf("same seed gave different answers at %d: %d vs %d", i, st, second[i])
		}
	}
	for _, st := range []int{200, 429, 500} {
		if count[st] == 0 {
			t.Errorf("no %d among 40 answers: %v", st, count)
		}
	}

	e := newEnv(t, Options{})
	e.fake.InjectFaults(Faults{Rate500: 1})
	wantError(t, e.do("GET", "/abilities", nil), http.StatusInternalServerError, CodeInternal, "")
	e.fake.InjectFaults(Faults{})
	if a := e.do("GET", "/abilities", nil); a.status != http.StatusOK {
		t.Fatalf("after clearing faults = %d", a.status)
	}
}

func TestTimeoutFault(t *testing.T) {
	e := newEnv(t, Options{})
	e.fake.InjectFaults(Faults{Timeout: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/abilities", nil)
	req.Header.Set("Authorization", "Token token="+DefaultAPIKey)
	resp, err := e.srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("request answered %d, want a client timeout", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want deadline exceeded", err)
	}
	if e.fake.Calls()["GET /abilities"] != 1 {
		t.Errorf("hung call not counted: %v", e.fake.Calls())
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t, Options{Latency: 30 * time.Millisecond})
	start := time.Now()
	e.do("GET", "/abilities", nil)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("answer took %v, want >= 30ms", d)
	}
	e.fake.SetLatency(0)
	if a := e.do("GET", "/abilities", nil); a.status != http.StatusOK {
		t.Fatal(a.status)
	}
}

func TestWaitIncidents(t *testing.T) {
	e := newEnv(t, Options{})
	done := make(chan error, 1)
	go func() { done <- e.fake.WaitIncidents(ctxT(t), 2) }()
	e.mustOpen("k1", "one")
	e.mustOpen("k2", "two")
	if err := <-done; err != nil {
		t.Fatalf("WaitIncidents = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.fake.WaitIncidents(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitIncidents(canceled) = %v, want context.Canceled", err)
	}
	// WaitFor sees call counters too.
	req, err := http.NewRequestWithContext(ctxT(t), "GET", e.srv.URL+"/users", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token token="+DefaultAPIKey)
	called := make(chan error, 1) // no t.Fatal in this goroutine
	go func() {
		resp, err := e.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		called <- err
	}()
	err = e.fake.WaitFor(ctxT(t), func(s *Server) bool { return s.CallsByStatus()["GET /users"][200] == 1 })
	if err != nil {
		t.Fatalf("WaitFor = %v", err)
	}
	if err := <-called; err != nil { // bounded by ctxT
		t.Fatalf("GET /users = %v", err)
	}
}

func TestLoadSeed(t *testing.T) {
	f := New(Options{})
	defer f.Close()
	seed := `{"users":[{"email":"a@example.com","name":"A"},{"email":"b@example.com"}],
	 "services":[{"name":"Teleport","id":"PSVC001"},{"name":"DB"}],
	 "on_calls":[{"user":"a@example.com","service":"Teleport","level":1},{"user":"b@example.com","service":"PSVC001"}],
	 "incidents":[{"service":"DB","title":"disk","assignees":["b@example.com"]}]}`
	if err := f.LoadSeed(strings.NewReader(seed)); err != nil {
		t.Fatalf("LoadSeed = %v", err)
	}
	if us := f.Users(); len(us) != 2 || us[1].Name != "b" {
		t.Errorf("Users() = %+v", us)
	}
	svcs := f.Services()
	if len(svcs) != 2 || svcs[0].ID != "PSVC001" || svcs[0].EscalationPolicyID == "" {
		t.Errorf("Services() = %+v", svcs)
	}
	incs := f.Incidents()
	if len(incs) != 1 || incs[0].Assignees[0] != "b@example.com" {
		t.Errorf("Incidents() = %+v", incs)
	}
	f.mu.Lock()
	levels := f.levelUsersLocked(svcs[0].EscalationPolicyID, time.Now())
	f.mu.Unlock()
	if len(levels) != 2 { // both at level 1 (b's level defaults to 1)
		t.Errorf("level-1 users = %v, want 2", levels)
	}

	bad := []string{
		`{"users":[{"email":"a@example.com","nickname":"x"}]}`,
		`{"on_calls":[{"user":"nobody@example.com","service":"Teleport"}]}`,
		`{"services":[{"name":"X","id":"PSVC001"}]}`,
		`{"users":[{"email":"not-an-email"}]}`,
		`not json`,
	}
	for _, b := range bad {
		if err := f.LoadSeed(strings.NewReader(b)); err == nil {
			t.Errorf("LoadSeed(%s) succeeded", b)
		}
	}
}

func TestStartAndClose(t *testing.T) {
	f := New(Options{})
	base, err := f.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if f.URL() != base || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("Start = %q, URL() = %q", base, f.URL())
	}
	if _, err := f.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	f.AddUser(alice, "Alice")
	req, _ := http.NewRequestWithContext(ctxT(t), "GET", base+"/users", nil)
	req.Header.Set("Authorization", "Token token="+DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /users = %d", resp.StatusCode)
	}
	// A request hanging on an injected timeout is released by Close.
	f.InjectFaults(Faults{Timeout: true})
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctxT(t), "GET", base+"/users", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	if err := f.WaitFor(ctxT(t), func(s *Server) bool { return s.Calls()["GET /users"] == 2 }); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	<-errc
	if err := f.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestSeedFilesHCLAndJSON loads the documented samples (docs/), one HCL and
// one JSON, and finds the same world in both.
func TestSeedFilesHCLAndJSON(t *testing.T) {
	world := func(path string) string {
		f := New(Options{})
		defer f.Close()
		if err := f.LoadSeedFile(path); err != nil {
			t.Fatalf("LoadSeedFile(%s) = %v", path, err)
		}
		var b strings.Builder
		for _, u := range f.Users() {
			fmt.Fprintf(&b, "user %s %q\n", u.Email, u.Name)
		}
		for _, sv := range f.Services() {
			f.mu.Lock()
			oncall := f.levelUsersLocked(sv.EscalationPolicyID, time.Now())
			f.mu.Unlock()
			fmt.Fprintf(&b, "service %q %s on call %v\n", sv.Name, sv.ID, oncall)
		}
		for _, in := range f.Incidents() {
			fmt.Fprintf(&b, "incident %s %q %s %v\n", in.ServiceID, in.Title, in.Status, in.Assignees)
		}
		return b.String()
	}
	hcl, json := world("../../docs/fake-pagerduty-seed.hcl"), world("../../docs/fake-pagerduty-seed.json")
	if hcl != json {
		t.Errorf("the HCL and JSON samples differ:\nHCL:\n%s\nJSON:\n%s", hcl, json)
	}
	for _, want := range []string{`user bob@example.com "Bob"`, `service "Teleport Access Requests" PTELEPO`, `"Database latency" triggered [bob@example.com]`} {
		if !strings.Contains(hcl, want) {
			t.Errorf("seeded world lacks %q:\n%s", want, hcl)
		}
	}
}

func TestSeedFileHCLErrorsNameTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.hcl")
	if err := os.WriteFile(path, []byte("user \"a@example.com\" {\n  nickname = \"x\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := New(Options{}).LoadSeedFile(path)
	if err == nil || !strings.Contains(err.Error(), "seed.hcl:2") {
		t.Errorf("LoadSeedFile(unknown key) = %v, want an error at seed.hcl:2", err)
	}
}
