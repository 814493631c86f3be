package pagerduty

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

func addIncident(t *testing.T, h *harness, seed fakepd.IncidentSeed) string {
	t.Helper()
	in, err := h.fake.AddIncident(seed)
	if err != nil {
		t.Fatalf("AddIncident(%+v) = %v", seed, err)
	}
	return in.ID
}

func ids(list []domain.Incident) []string {
	out := make([]string, 0, len(list))
	for _, in := range list {
		out = append(out, in.ID)
	}
	slices.Sort(out)
	return out
}

// Only triggered and acknowledged incidents of the services asked come
// back, over every page, with their keys and services.
func TestOpenIncidentsFiltersAndPages(t *testing.T) {
	h := newHarness(t, nil)
	h.client.limit = 2
	a, b, c := h.fake.AddService("A"), h.fake.AddService("B"), h.fake.AddService("C")
	key := domain.IncidentKey("0b8e1b4c-7a4f-4c53-9d3b-2f7e0e7c1a11")
	var want []string
	want = append(want, addIncident(t, h, fakepd.IncidentSeed{Service: "A", Key: key}))
	want = append(want, addIncident(t, h, fakepd.IncidentSeed{Service: "A", Title: "disk full"}))
	want = append(want, addIncident(t, h, fakepd.IncidentSeed{Service: "B", Key: key, Status: "acknowledged"}))
	want = append(want, addIncident(t, h, fakepd.IncidentSeed{Service: "B", Title: "cpu"}))
	want = append(want, addIncident(t, h, fakepd.IncidentSeed{Service: "B", Title: "net"}))
	addIncident(t, h, fakepd.IncidentSeed{Service: "A", Key: "old", Status: "resolved"})
	addIncident(t, h, fakepd.IncidentSeed{Service: "C", Key: key})
	slices.Sort(want)

	got, more, err := h.client.OpenIncidents(t.Context(), []string{a.ID, b.ID, a.ID, "not an id"}, 0)
	if err != nil || more {
		t.Fatalf("OpenIncidents = %v, more %v, %v", got, more, err)
	}
	if !slices.Equal(ids(got), want) {
		t.Errorf("OpenIncidents = %v, want %v", ids(got), want)
	}
	for _, in := range got {
		if in.ServiceID != a.ID && in.ServiceID != b.ID || !in.Active() {
			t.Errorf("incident %+v is not an open one of A or B", in)
		}
		if in.ID == want[0] && in.Key != key {
			t.Errorf("incident %s key = %q, want %q", in.ID, in.Key, key)
		}
	}
	if n := h.calls("GET /incidents"); n != 3 {
		t.Errorf("GET /incidents calls = %d, want 3 (5 incidents, pages of 2)", n)
	}

	got, more, err = h.client.OpenIncidents(t.Context(), []string{a.ID, b.ID}, 3)
	if err != nil || !more || len(got) != 3 {
		t.Errorf("OpenIncidents(max 3) = %d incidents, more %v, %v; want 3 and more", len(got), more, err)
	}
	h.fake.ResetCalls()
	if got, more, err := h.client.OpenIncidents(t.Context(), []string{c.ID[:0], "bad id"}, 0); len(got) != 0 || more || err != nil {
		t.Errorf("OpenIncidents(no valid service) = %v, %v, %v", got, more, err)
	}
	if n := h.totalCalls(); n != 0 {
		t.Errorf("OpenIncidents without a valid service made %d calls", n)
	}
}

// Service IDs go in chunks, so a long list keeps the URL short; every
// chunk is read.
func TestOpenIncidentsChunksServices(t *testing.T) {
	h := newHarness(t, nil)
	var svcs, want []string
	for i := range servicesPerQuery + 3 {
		s := h.fake.AddService(fmt.Sprintf("S%02d", i))
		svcs = append(svcs, s.ID)
		if i%9 == 0 {
			want = append(want, addIncident(t, h, fakepd.IncidentSeed{Service: s.ID, Key: fmt.Sprintf("k%d", i)}))
		}
	}
	slices.Sort(want)
	got, more, err := h.client.OpenIncidents(t.Context(), svcs, 0)
	if err != nil || more || !slices.Equal(ids(got), want) {
		t.Errorf("OpenIncidents = %v, more %v, %v; want %v", ids(got), more, err, want)
	}
	if n := h.calls("GET /incidents"); n != 2 {
		t.Errorf("GET /incidents calls = %d, want 2 (chunks of %d)", n, servicesPerQuery)
	}
}

// PagerDuty serves at most 10,000 records of one query: the adapter stops
// there, says more, and never asks beyond (the fake answers 400 if it
// does). A hundred full pages skip the contract check, which the other
// tests make with the same query.
func TestOpenIncidentsStopsAtThePaginationCeiling(t *testing.T) {
	var fake http.Handler
	h := newFaultHarness(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fake.ServeHTTP(w, r) })
	}, nil)
	fake = h.fake.Handler()
	svc := h.fake.AddService("Busy")
	for i := range maxPaginated + 5 {
		addIncident(t, h, fakepd.IncidentSeed{Service: "Busy", Key: fmt.Sprintf("k%d", i)})
	}
	got, more, err := h.client.OpenIncidents(t.Context(), []string{svc.ID}, 0)
	if err != nil || !more || len(got) != maxPaginated {
		t.Fatalf("OpenIncidents = %d incidents, more %v, %v; want %d and more", len(got), more, err, maxPaginated)
	}
	if bad := h.fake.CallsByStatus()["GET /incidents"][400]; bad != 0 {
		t.Errorf("%d list calls went past the ceiling", bad)
	}
}

func TestIncidentDetails(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	spec := testSpec(svc.ID)
	in, err := h.client.EnsureIncident(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.client.IncidentDetails(t.Context(), in.ID)
	if err != nil || got != spec.Details {
		t.Errorf("IncidentDetails = %q, %v; want %q", got, err, spec.Details)
	}
	bare := addIncident(t, h, fakepd.IncidentSeed{Service: "Access", Title: "no body"})
	if got, err := h.client.IncidentDetails(t.Context(), bare); err != nil || got != "" {
		t.Errorf("IncidentDetails(no body) = %q, %v; want empty", got, err)
	}
	if _, err := h.client.IncidentDetails(t.Context(), "PNOTTHERE"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("IncidentDetails(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := h.client.IncidentDetails(t.Context(), "../x"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("IncidentDetails(bad id) = %v, want ErrNotFound", err)
	}
}
