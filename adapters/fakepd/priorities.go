package fakepd

import "net/http"

// priority is one of the account's incident priorities.
type priority struct{ id, name, description string }

// priorities are the fake account's priorities, most to least severe, as
// GET /priorities lists them.
var priorities = []priority{
	{"PPRIO01", "P1", "Critical issue that warrants public notification"},
	{"PPRIO02", "P2", "Critical system issue actively impacting many customers"},
	{"PPRIO03", "P3", "Stability or minor customer-impacting issues"},
	{"PPRIO04", "P4", "Minor issues requiring action, but not affecting customers"},
	{"PPRIO05", "P5", "Cosmetic issues or bugs, not affecting customer ability to use the product"},
}

func findPriority(id string) (priority, bool) {
	for _, p := range priorities {
		if p.id == id {
			return p, true
		}
	}
	return priority{}, false
}

func (s *Server) priorityJSON(p priority) map[string]any {
	return map[string]any{"id": p.id, "type": "priority", "summary": p.name, "self": s.link("/priorities/" + p.id),
		"html_url": nil, "name": p.name, "description": p.description}
}

// listPriorities is GET /priorities.
func (s *Server) listPriorities(w http.ResponseWriter, r *http.Request) {
	p, aerr := parsePage(r.URL.Query())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, paged(p, "priorities", priorities, func(x priority) any { return s.priorityJSON(x) }))
}

// checkPriority refuses a priority reference the account does not have.
func checkPriority(r *ref) *apiError {
	if r == nil {
		return nil
	}
	if _, ok := findPriority(r.ID); !ok {
		return invalid("Priority not found")
	}
	return nil
}
