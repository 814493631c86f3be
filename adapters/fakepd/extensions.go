package fakepd

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
)

type extensionBody struct {
	Name             string         `json:"name"`
	EndpointURL      *string        `json:"endpoint_url"`
	ExtensionSchema  *ref           `json:"extension_schema"`
	ExtensionObjects []ref          `json:"extension_objects"`
	Config           map[string]any `json:"config"`
}

// decodeExtension reads PagerDuty's {"extension": {...}} body; like
// PagerDuty's API (its OpenAPI document requires the wrapper), a bare
// extension object is refused.
func decodeExtension(r *http.Request) (extensionBody, *apiError) {
	var raw map[string]json.RawMessage
	if aerr := decodeBody(r, &raw); aerr != nil {
		return extensionBody{}, aerr
	}
	var b extensionBody
	obj, wrapped := raw["extension"]
	if !wrapped || len(obj) == 0 || string(obj) == "null" {
		return b, invalid("extension is required: the body must be {\"extension\": {...}}")
	}
	if err := json.Unmarshal(obj, &b); err != nil {
		return b, invalid("malformed extension: " + err.Error())
	}
	return b, nil
}

// headerMask is what a custom header value reads back as: PagerDuty hides
// header values in GET answers (they are sent unmasked with deliveries).
const headerMask = "********"

// maskedConfig returns an extension config with its header values hidden.
func maskedConfig(cfg map[string]any) map[string]any {
	out := maps.Clone(cfg)
	if out == nil {
		return map[string]any{}
	}
	list, ok := cfg["headers"].([]any)
	if !ok {
		return out
	}
	masked := make([]any, 0, len(list))
	for _, h := range list {
		m, ok := h.(map[string]any)
		if !ok {
			masked = append(masked, h)
			continue
		}
		m = maps.Clone(m)
		if _, has := m["value"]; has {
			m["value"] = headerMask
		}
		masked = append(masked, m)
	}
	out["headers"] = masked
	return out
}

func (s *Server) extensionJSONLocked(e *extension) map[string]any {
	objs := make([]any, 0, len(e.serviceIDs))
	for _, id := range e.serviceIDs {
		if sv := s.serviceByIDLocked(id); sv != nil {
			objs = append(objs, s.serviceRefLocked(sv))
		}
	}
	sch, _ := findSchema(e.schemaID)
	out := map[string]any{
		"id": e.id, "type": "extension", "summary": e.name, "self": s.link("/extensions/" + e.id),
		"html_url": nil, "name": e.name, "extension_objects": objs,
		"extension_schema": map[string]any{
			"id": sch.id, "type": "extension_schema_reference", "summary": sch.label,
			"self": s.link("/extension_schemas/" + sch.id), "html_url": nil,
		},
		"config": maskedConfig(e.config), "temporarily_disabled": s.disabledLocked(e.id),
	}
	if e.endpointURL != "" {
		out["endpoint_url"] = e.endpointURL
	}
	return out
}

func (s *Server) schemaJSONLocked(sch extensionSchema) map[string]any {
	return map[string]any{
		"id": sch.id, "type": "extension_schema", "summary": sch.label,
		"self": s.link("/extension_schemas/" + sch.id), "html_url": nil,
		"label": sch.label, "key": sch.key, "description": sch.description,
		"send_types": sch.sendTypes, "guide_url": "https://developer.pagerduty.com",
		"icon_url": s.link("/_ui/icon.png"), "logo_url": s.link("/_ui/logo.png"), "url": "",
	}
}

// applyExtensionLocked validates b and writes it into e (all fields on
// create, the fields present on update).
func (s *Server) applyExtensionLocked(e *extension, b extensionBody, create bool) *apiError {
	name := strings.TrimSpace(b.Name)
	if create && name == "" {
		return invalid("Name cannot be empty")
	}
	schemaID := e.schemaID
	if b.ExtensionSchema != nil {
		schemaID = b.ExtensionSchema.ID
	}
	if _, ok := findSchema(schemaID); !ok {
		return invalid("Extension Schema not found")
	}
	serviceIDs := e.serviceIDs
	if b.ExtensionObjects != nil || create {
		if len(b.ExtensionObjects) == 0 {
			return invalid("Extension Objects cannot be empty")
		}
		serviceIDs = nil
		for _, o := range b.ExtensionObjects {
			if s.serviceByIDLocked(o.ID) == nil {
				return invalid("Extension Object not found: " + o.ID)
			}
			serviceIDs = append(serviceIDs, o.ID)
		}
	}
	endpoint := e.endpointURL
	if b.EndpointURL != nil {
		endpoint = strings.TrimSpace(*b.EndpointURL)
	}
	if endpoint == "" {
		return invalid("Endpoint URL cannot be empty")
	}
	if name != "" {
		e.name = name
	}
	e.schemaID, e.serviceIDs, e.endpointURL = schemaID, serviceIDs, endpoint
	if b.Config != nil {
		e.config = maps.Clone(b.Config)
	}
	s.notify()
	return nil
}

func (s *Server) listExtensions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, aerr := parsePage(q)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	query, objID, schemaID := lower(q.Get("query")), q.Get("extension_object_id"), q.Get("extension_schema_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*extension
	for _, e := range s.exts {
		if (query == "" || strings.Contains(lower(e.name), query)) &&
			(objID == "" || slices.Contains(e.serviceIDs, objID)) &&
			(schemaID == "" || e.schemaID == schemaID) {
			list = append(list, e)
		}
	}
	writeJSON(w, http.StatusOK, paged(p, "extensions", list, func(e *extension) any { return s.extensionJSONLocked(e) }))
}

func (s *Server) extensionLocked(id string) *extension {
	for _, e := range s.exts {
		if e.id == id {
			return e
		}
	}
	return nil
}

func (s *Server) createExtension(w http.ResponseWriter, r *http.Request) {
	b, aerr := decodeExtension(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &extension{}
	if aerr := s.applyExtensionLocked(e, b, true); aerr != nil {
		writeError(w, aerr)
		return
	}
	e.id = s.ids.make(kindExtension)
	s.exts = append(s.exts, e)
	writeJSON(w, http.StatusCreated, map[string]any{"extension": s.extensionJSONLocked(e)})
}

func (s *Server) getExtension(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.extensionLocked(r.PathValue("id"))
	if e == nil {
		writeError(w, notFound("Extension"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"extension": s.extensionJSONLocked(e)})
}

func (s *Server) updateExtension(w http.ResponseWriter, r *http.Request) {
	b, aerr := decodeExtension(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.extensionLocked(r.PathValue("id"))
	if e == nil {
		writeError(w, notFound("Extension"))
		return
	}
	next := *e
	if aerr := s.applyExtensionLocked(&next, b, false); aerr != nil {
		writeError(w, aerr)
		return
	}
	*e = next
	writeJSON(w, http.StatusOK, map[string]any{"extension": s.extensionJSONLocked(e)})
}

// enableExtension re-enables an extension PagerDuty disabled after failed
// deliveries (POST /extensions/{id}/enable, no body).
func (s *Server) enableExtension(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	known := s.extensionLocked(id) != nil
	s.mu.Unlock()
	if !known {
		writeError(w, notFound("Extension"))
		return
	}
	s.Enable(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"extension": s.extensionJSONLocked(s.extensionLocked(id))})
}

func (s *Server) deleteExtension(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	i := slices.IndexFunc(s.exts, func(e *extension) bool { return e.id == id })
	if i < 0 {
		writeError(w, notFound("Extension"))
		return
	}
	s.exts = slices.Delete(s.exts, i, i+1)
	s.notify()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listSchemas(w http.ResponseWriter, r *http.Request) {
	p, aerr := parsePage(r.URL.Query())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, paged(p, "extension_schemas", extensionSchemas, func(sch extensionSchema) any { return s.schemaJSONLocked(sch) }))
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request) {
	sch, ok := findSchema(r.PathValue("id"))
	if !ok {
		writeError(w, notFound("Extension Schema"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"extension_schema": s.schemaJSONLocked(sch)})
}

// Extension is a snapshot of one extension (e.g. a provisioned Custom
// Incident Action).
type Extension struct {
	ID, Name, EndpointURL, SchemaID string
	ServiceIDs                      []string
	Config                          map[string]any
}

// Extensions returns every extension, in creation order.
func (s *Server) Extensions() []Extension {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Extension, 0, len(s.exts))
	for _, e := range s.exts {
		out = append(out, Extension{ID: e.id, Name: e.name, EndpointURL: e.endpointURL, SchemaID: e.schemaID,
			ServiceIDs: slices.Clone(e.serviceIDs), Config: maps.Clone(e.config)})
	}
	return out
}
