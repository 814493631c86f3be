package fakeopsgenie

import "net/http"

// apiIntegrationID names the API integration whose key the fake accepts.
const apiIntegrationID = "5a2c9f4e-8d71-4b36-a0e2-3c1f6b9d7e48"

// integrationsLocked returns the integrations of the account: the API
// integration of the key, and the webhook integration when it has a URL.
func (s *Server) integrationsLocked() []map[string]any {
	out := []map[string]any{{"id": apiIntegrationID, "name": "API", "enabled": true, "type": "API", "teamId": ""}}
	if o := s.opts.Webhook; o.URL != "" {
		out = append(out, map[string]any{"id": o.IntegrationID, "name": o.IntegrationName, "enabled": true, "type": "Webhook", "teamId": ""})
	}
	return out
}

// configurationAllowed answers 403 for a key without configuration access
// (Options.NoConfigurationAccess), as Opsgenie does for the integration
// API; it reports whether the request may go on.
func (s *Server) configurationAllowed(w http.ResponseWriter, r *http.Request) bool {
	if !s.opts.NoConfigurationAccess {
		return true
	}
	writeError(w, requestID(r.Context()), http.StatusForbidden, "Your API key is not allowed to access configuration", nil, "")
	return false
}

// listIntegrations serves GET /v2/integrations.
func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request) {
	if !s.configurationAllowed(w, r) {
		return
	}
	s.mu.Lock()
	out := s.integrationsLocked()
	s.mu.Unlock()
	writeData(w, r, out, nil)
}

// getIntegration serves GET /v2/integrations/{id}: the integration's
// fields, and a webhook integration's url and what it adds to payloads.
func (s *Server) getIntegration(w http.ResponseWriter, r *http.Request) {
	if !s.configurationAllowed(w, r) {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	list, o := s.integrationsLocked(), s.opts.Webhook
	s.mu.Unlock()
	for _, in := range list {
		if in["id"] != id {
			continue
		}
		if in["type"] == "Webhook" {
			in["url"], in["addAlertDescription"], in["addAlertDetails"] = o.URL, o.AddDescription, o.AddDetails
		}
		writeData(w, r, in, nil)
		return
	}
	writeError(w, requestID(r.Context()), http.StatusNotFound, "Integration with id ["+id+"] not found", nil, "")
}
