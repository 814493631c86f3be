package domain

import "testing"

func TestBacklogTake(t *testing.T) {
	reqs := []Request{{ID: "r1"}, {ID: "r2"}}
	b := NewBacklog(reqs)
	if got := b.Requests(); len(got) != 2 {
		t.Fatalf("Requests() = %v, want both", got)
	}
	copyOfEvent := Event{Kind: EventSynced, Pending: b}
	if got := b.Take(); len(got) != 2 || got[0].ID != "r1" {
		t.Fatalf("Take() = %v, want both", got)
	}
	if got := copyOfEvent.Pending.Requests(); got != nil {
		t.Fatalf("a copy of the event still holds %v after Take", got)
	}
	if got := b.Take(); got != nil {
		t.Fatalf("second Take() = %v, want nil", got)
	}
	var none *Backlog
	if none.Take() != nil || none.Requests() != nil {
		t.Fatal("a nil backlog is not empty")
	}
}
