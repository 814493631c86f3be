package fakeopsgenie

import (
	"net/http"
	"time"
)

// submitLocked queues an asynchronous request, due after the processing
// delay (processed at once when there is none). apply runs when it is
// processed and reports the affected alert and the result.
func (s *Server) submitLocked(id, action string, apply func(now time.Time) (alertID, alias, status string, ok bool)) *request {
	now := s.now()
	rq := &request{id: id, action: action, due: now.Add(s.opts.ProcessingDelay), apply: apply}
	s.requests[id] = rq
	s.pending = append(s.pending, rq)
	s.processDueLocked()
	if !rq.processed {
		// Opsgenie processes on its own: so does the fake, when due.
		s.timers = append(s.timers, time.AfterFunc(s.opts.ProcessingDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.processDueLocked()
		}))
	}
	return rq
}

// processDueLocked applies the queued requests that are due, in order.
func (s *Server) processDueLocked() {
	now := s.now()
	n := 0
	for _, rq := range s.pending {
		if rq.due.After(now) {
			break // later requests are due later still
		}
		rq.alertID, rq.alias, rq.status, rq.success = rq.apply(now)
		rq.processed, rq.processedAt = true, now
		n++
	}
	if n > 0 {
		s.pending = append(s.pending[:0], s.pending[n:]...)
		s.notify()
	}
}

// ProcessPending applies every queued request now, due or not (tests).
func (s *Server) ProcessPending() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rq := range s.pending {
		rq.due = time.Time{}
	}
	s.processDueLocked()
}

// PendingRequests returns how many asynchronous requests wait to be
// processed.
func (s *Server) PendingRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.processDueLocked()
	return len(s.pending)
}

type requestStatus struct {
	Success       bool   `json:"success"`
	Action        string `json:"action"`
	ProcessedAt   string `json:"processedAt"`
	IntegrationID string `json:"integrationId"`
	IsSuccess     bool   `json:"isSuccess"`
	Status        string `json:"status"`
	AlertID       string `json:"alertId"`
	Alias         string `json:"alias"`
}

// requestStatus serves GET /v2/alerts/requests/{id}: 404 with
// X-Opsgenie-Errortype RequestNotProcessed until the request is processed
// (Opsgenie cannot tell an unknown ID from a queued one either).
func (s *Server) requestStatus(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	s.processDueLocked()
	rq, ok := s.requests[id]
	done := ok && rq.processed
	var st requestStatus
	if done {
		st = requestStatus{
			Success: true, Action: rq.action, ProcessedAt: rq.processedAt.UTC().Format(time.RFC3339Nano),
			IntegrationID: integrationID, IsSuccess: rq.success, Status: rq.status, AlertID: rq.alertID, Alias: rq.alias,
		}
	}
	s.mu.Unlock()
	if !done {
		writeError(w, requestID(r.Context()), http.StatusNotFound,
			"Request not found. It might not be processed, yet.", nil, "RequestNotProcessed")
		return
	}
	writeData(w, r, st, nil)
}

// integrationID is the ID of the API integration whose key the fake
// accepts.
const integrationID = "7b3f2a8e-6d1c-4c55-9f0e-3a2b1c0d9e8f"
