package domain

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkDecideApproval measures the on-call decision of SPEC §4 rules 3
// and 4 on facts of a realistic size: three approval services, the user on
// call in two policies among twenty on-call entries, and a foreign active
// incident to find.
func BenchmarkDecideApproval(b *testing.B) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	user := PagerUser{ID: "PUSER01", Name: "Carol", Email: "carol@example.com"}
	f := OnCallFacts{User: user, Now: now}
	for i := range 3 {
		f.Services = append(f.Services, Service{
			ID: fmt.Sprintf("PSVC%02d", i), Name: fmt.Sprintf("Service %d", i),
			EscalationPolicyID: fmt.Sprintf("PPOL%02d", i),
		})
	}
	for i := range 20 {
		oc := OnCall{UserID: fmt.Sprintf("PUSER%02d", i+2), EscalationPolicyID: fmt.Sprintf("PPOL%02d", i%5), Level: 1 + i%3}
		if i == 6 || i == 12 {
			oc.UserID = user.ID
			oc.Start, oc.End = now.Add(-time.Hour), now.Add(time.Hour)
		}
		f.OnCalls = append(f.OnCalls, oc)
	}
	f.Incidents = []Incident{
		{ID: "Q1", Key: IncidentKey("req-0"), ServiceID: "PSVC01", Status: IncidentTriggered, AssigneeIDs: []string{user.ID}},
		{ID: "Q2", ServiceID: "PSVC02", Status: IncidentAcknowledged, AssigneeIDs: []string{"PUSER05", user.ID}},
	}
	p := DefaultPolicy()
	p.RequireActiveIncident = true
	p.MaxEscalationLevel = 2

	a, err := p.DecideApproval(f)
	if err != nil || a.Level != 1 || len(a.Services) != 2 {
		b.Fatalf("DecideApproval = %+v, %v; want an approval at level 1 in 2 services", a, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.DecideApproval(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewIncidentSpec measures building the incident of a request with
// every detail field set.
func BenchmarkNewIncidentSpec(b *testing.B) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	r := Request{
		ID:                 "0b6f5e7e-3a51-4f0e-9a0e-4c3f2d1e0a9b",
		User:               "alice@example.com",
		Roles:              []string{"editor", "db-admin", "k8s-prod"},
		Resources:          []string{"/teleport.example.com/node/db-1", "/teleport.example.com/db/orders"},
		Reason:             "incident 4211: orders replica lag",
		Created:            now,
		Expires:            now.Add(8 * time.Hour),
		State:              StatePending,
		SuggestedReviewers: []string{"bob@example.com", "carol@example.com"},
		Annotations:        map[string][]string{DefaultNotifyAnnotation: {"Teleport Access Requests"}},
	}
	c := Cluster{Name: "teleport.example.com", ProxyAddr: "teleport.example.com:443"}
	o := IncidentOptions{Urgency: "high"}

	spec := NewIncidentSpec(r, c, "PSVC01", o)
	if spec.Key != IncidentKey(r.ID) || !strings.Contains(spec.Details, "/web/requests/"+r.ID) {
		b.Fatalf("NewIncidentSpec = %+v; want the request's key and link", spec)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = NewIncidentSpec(r, c, "PSVC01", o)
	}
}
