package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The contract: PagerDuty's own OpenAPI document, patched in memory where it
// is wrong about PagerDuty (see PATCHES.md beside it). Every request the
// adapter sends and every answer the fake gives is checked against it.

// contractPath is the document, relative to this package; the environment
// variable PAGERGATE_PD_OPENAPI overrides it.
var contractPath = filepath.Join("..", "..", "..", "shared", "pagerduty-openapi", "openapiv3.json")

var contract struct {
	once   sync.Once
	router routers.Router
	err    error
}

// contractRouter loads the document once per test binary.
func contractRouter(t testing.TB) routers.Router {
	t.Helper()
	contract.once.Do(func() { contract.router, contract.err = loadContract() })
	if contract.err != nil {
		t.Fatalf("load the PagerDuty OpenAPI contract: %v", contract.err)
	}
	return contract.router
}

func loadContract() (routers.Router, error) {
	path := contractPath
	if p := os.Getenv("PAGERGATE_PD_OPENAPI"); p != "" {
		path = p
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	for _, p := range contractPatches {
		if err := p.apply(doc); err != nil {
			return nil, fmt.Errorf("patch %q no longer applies (did the document change?): %w", p.name, err)
		}
	}
	if err := pruneContract(doc, contractResources); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	patched, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	spec, err := openapi3.NewLoader().LoadFromData(patched)
	if err != nil {
		return nil, err
	}
	// Patch "no-example-validation": examples and defaults in the document
	// break their own schemas; they say nothing about the wire.
	return legacy.NewRouter(spec, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation())
}

// contractResources are the collections the adapter uses. The other paths,
// and the components only they use, are dropped before loading: under the
// race detector loading the whole document takes many seconds. A call
// outside these collections fails the check as "no such operation".
var contractResources = []string{
	"abilities", "extension_schemas", "extensions", "incidents", "oncalls", "priorities", "services", "users",
}

// pruneContract keeps the paths under the resources and the components
// they reach through $ref.
func pruneContract(doc map[string]any, resources []string) error {
	paths, err := obj(doc, "paths")
	if err != nil {
		return err
	}
	for p := range paths {
		first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if !slices.Contains(resources, first) {
			delete(paths, p)
		}
	}
	comps, err := obj(doc, "components")
	if err != nil {
		return err
	}
	reached := map[string]bool{}
	var queue []any
	queue = append(queue, paths)
	for len(queue) > 0 {
		node := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		switch v := node.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				kind, name, ok := componentOf(ref)
				if !ok {
					return fmt.Errorf("unexpected $ref %q", ref)
				}
				key := kind + "/" + name
				if !reached[key] {
					reached[key] = true
					target, err := obj(comps, kind, name)
					if err != nil {
						return fmt.Errorf("$ref %q: %w", ref, err)
					}
					queue = append(queue, target)
				}
			}
			for _, child := range v {
				queue = append(queue, child)
			}
		case []any:
			queue = append(queue, v...)
		}
	}
	for kind, entries := range comps {
		if kind == "securitySchemes" {
			continue
		}
		m, ok := entries.(map[string]any)
		if !ok {
			continue
		}
		for name := range m {
			if !reached[kind+"/"+name] {
				delete(m, name)
			}
		}
	}
	return nil
}

// componentOf splits "#/components/schemas/Tag/allOf/0" into "schemas" and
// "Tag".
func componentOf(ref string) (kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(ref, "#/components/")
	if !ok {
		return "", "", false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return "", "", false
	}
	return parts[0], strings.NewReplacer("~1", "/", "~0", "~").Replace(parts[1]), true
}

// contractPatch is one named fix of the document, applied to its JSON
// before loading. apply fails when its target is not where it was.
type contractPatch struct {
	name  string
	apply func(doc map[string]any) error
}

var contractPatches = []contractPatch{
	{
		// Two event-orchestration PUT 200 answers $ref a requestBodies
		// entry, so the document does not load. Move it to responses.
		name: "orchestration-responses-ref-request-bodies",
		apply: func(doc map[string]any) error {
			const prefix = "#/components/requestBodies/"
			moved := 0
			bodies, err := obj(doc, "components", "requestBodies")
			if err != nil {
				return err
			}
			comps, err := obj(doc, "components")
			if err != nil {
				return err
			}
			responses, _ := comps["responses"].(map[string]any)
			paths, err := obj(doc, "paths")
			if err != nil {
				return err
			}
			for _, item := range paths {
				ops, _ := item.(map[string]any)
				for _, op := range ops {
					o, _ := op.(map[string]any)
					rs, _ := o["responses"].(map[string]any)
					for code, r := range rs {
						rm, _ := r.(map[string]any)
						ref, _ := rm["$ref"].(string)
						name, ok := strings.CutPrefix(ref, prefix)
						if !ok {
							continue
						}
						body, ok := bodies[name].(map[string]any)
						if !ok {
							return fmt.Errorf("requestBodies/%s is missing", name)
						}
						resp := map[string]any{"description": "moved from requestBodies", "content": body["content"]}
						if d, ok := body["description"].(string); ok && d != "" {
							resp["description"] = d
						}
						responses[name] = resp
						rs[code] = map[string]any{"$ref": "#/components/responses/" + name}
						moved++
					}
				}
			}
			if moved != 2 {
				return fmt.Errorf("found %d responses referring to requestBodies, want 2", moved)
			}
			return nil
		},
	},
	{
		// servers is https://api.pagerduty.com: route on paths only.
		name: "route-on-paths-only",
		apply: func(doc map[string]any) error {
			servers, _ := doc["servers"].([]any)
			if len(servers) != 1 {
				return fmt.Errorf("%d servers, want 1", len(servers))
			}
			if u, _ := servers[0].(map[string]any)["url"].(string); u != "https://api.pagerduty.com" {
				return fmt.Errorf("server is %q", u)
			}
			delete(doc, "servers")
			return nil
		},
	},
	{
		// Every operation requires Accept and Content-Type (exactly
		// application/json), even GETs without a body. Make them optional;
		// the body's media type is still checked against the operation.
		name: "optional-accept-content-type",
		apply: func(doc map[string]any) error {
			for _, n := range []string{"header_Accept", "header_Content-Type"} {
				p, err := obj(doc, "components", "parameters", n)
				if err != nil {
					return err
				}
				if p["required"] != true {
					return fmt.Errorf("%s is not required any more", n)
				}
				p["required"] = false
				if s, ok := p["schema"].(map[string]any); ok {
					delete(s, "enum")
				}
			}
			return nil
		},
	},
	{
		// IncidentBody.details is typed object; every client sends a string.
		name: "incident-body-details-string",
		apply: func(doc map[string]any) error {
			d, err := obj(doc, "components", "schemas", "IncidentBody", "properties", "details")
			if err != nil {
				return err
			}
			if d["type"] != "object" {
				return fmt.Errorf("details type is %v", d["type"])
			}
			delete(d, "type")
			d["oneOf"] = []any{map[string]any{"type": "object"}, map[string]any{"type": "string"}}
			return nil
		},
	},
	{
		// go-pagerduty always sends "priority": null when creating, and
		// answers carry null priorities.
		name: "nullable-priority",
		apply: func(doc map[string]any) error {
			targets := []func() (map[string]any, error){
				func() (map[string]any, error) {
					return obj(doc, "paths", "/incidents", "post", "requestBody", "content", "application/json", "schema", "properties", "incident", "properties")
				},
				func() (map[string]any, error) {
					return obj(doc, "paths", "/incidents", "put", "requestBody", "content", "application/json", "schema", "properties", "incidents", "items", "properties")
				},
				func() (map[string]any, error) {
					return obj(doc, "paths", "/incidents/{id}", "put", "requestBody", "content", "application/json", "schema", "properties", "incident", "properties")
				},
				func() (map[string]any, error) { return schemaProps(doc, "Incident", "priority") },
			}
			for _, target := range targets {
				props, err := target()
				if err != nil {
					return err
				}
				if err := nullable(props, "priority"); err != nil {
					return err
				}
			}
			return nil
		},
	},
	{
		// Real answers carry null for these (null start/end: a permanent
		// on-call).
		name: "nullable-response-fields",
		apply: func(doc map[string]any) error {
			for _, f := range []struct{ schema, prop string }{
				{"Incident", "resolved_at"},
				{"Incident", "resolve_reason"},
				{"Oncall", "start"},
				{"Oncall", "end"},
				{"Oncall", "schedule"},
			} {
				props, err := schemaProps(doc, f.schema, f.prop)
				if err != nil {
					return err
				}
				if err := nullable(props, f.prop); err != nil {
					return fmt.Errorf("%s.%s: %w", f.schema, f.prop, err)
				}
			}
			return nil
		},
	},
	{
		// Incident.body says it is "only returned if the include[]=body
		// query parameter is provided", but GET /incidents/{id} does not
		// list body among its include[] values.
		name: "incident-include-body",
		apply: func(doc map[string]any) error {
			s, err := obj(doc, "components", "parameters", "include_incident", "schema")
			if err != nil {
				return err
			}
			enum, _ := s["enum"].([]any)
			if len(enum) == 0 || slices.Contains(enum, any("body")) {
				return fmt.Errorf("include_incident values are %v", enum)
			}
			s["enum"] = append(enum, "body")
			return nil
		},
	},
	{
		// POST /incidents/{id}/notes declares 200; PagerDuty answers 201.
		name: "note-created-201",
		apply: func(doc map[string]any) error {
			rs, err := obj(doc, "paths", "/incidents/{id}/notes", "post", "responses")
			if err != nil {
				return err
			}
			if _, ok := rs["201"]; ok {
				return errors.New("201 is declared already")
			}
			ok200, ok := rs["200"]
			if !ok {
				return errors.New("200 is not declared")
			}
			rs["201"] = ok200
			return nil
		},
	},
}

// obj walks down JSON objects (array items by "items" only).
func obj(doc map[string]any, path ...string) (map[string]any, error) {
	cur := doc
	for i, k := range path {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not found", strings.Join(path[:i+1], " > "))
		}
		cur = next
	}
	return cur, nil
}

// schemaProps returns the properties object of a component schema that
// holds prop, looking into its inline allOf members too.
func schemaProps(doc map[string]any, schema, prop string) (map[string]any, error) {
	s, err := obj(doc, "components", "schemas", schema)
	if err != nil {
		return nil, err
	}
	candidates := []map[string]any{s}
	if all, ok := s["allOf"].([]any); ok {
		for _, m := range all {
			if mm, ok := m.(map[string]any); ok {
				candidates = append(candidates, mm)
			}
		}
	}
	for _, c := range candidates {
		if props, ok := c["properties"].(map[string]any); ok {
			if _, ok := props[prop]; ok {
				return props, nil
			}
		}
	}
	return nil, fmt.Errorf("schema %s has no property %s", schema, prop)
}

// nullable makes props[name] accept null; a $ref is wrapped in allOf,
// since siblings of $ref are ignored.
func nullable(props map[string]any, name string) error {
	p, ok := props[name].(map[string]any)
	if !ok {
		return fmt.Errorf("property %s not found", name)
	}
	if p["nullable"] == true {
		return fmt.Errorf("property %s is nullable already", name)
	}
	if ref, ok := p["$ref"]; ok {
		props[name] = map[string]any{"nullable": true, "allOf": []any{map[string]any{"$ref": ref}}}
		return nil
	}
	p["nullable"] = true
	return nil
}

// contractCheck is a middleware validating every request against the
// contract before passing it on, and every answer after. Mismatches fail
// the test at cleanup (and are logged as they happen).
type contractCheck struct {
	t      testing.TB
	router routers.Router
	next   http.Handler

	mu       sync.Mutex
	problems []string
	checked  int
}

func newContractCheck(t testing.TB, next http.Handler) *contractCheck {
	c := &contractCheck{t: t, router: contractRouter(t), next: next}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Errorf("contract: %s", p)
		}
	})
	return c
}

func (c *contractCheck) fail(format string, args ...any) {
	c.mu.Lock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// Checked returns how many exchanges were validated.
func (c *contractCheck) Checked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

func (c *contractCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := r.Method + " " + r.URL.Path
	ctx := context.WithoutCancel(r.Context())

	route, params, err := c.router.FindRoute(r)
	if err != nil {
		c.fail("%s: no such operation: %v", name, err)
		r.Body = io.NopCloser(bytes.NewReader(body))
		c.next.ServeHTTP(w, r)
		return
	}
	vr := r.Clone(ctx)
	vr.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{
		Request:    vr,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			ExcludeReadOnlyValidations: true,
			AuthenticationFunc:         openapi3filter.NoopAuthenticationFunc,
			MultiError:                 true,
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		c.fail("request %s %s: %v", name, body, err)
	}
	if isWrite(r.Method) && r.Header.Get("From") == "" && needsFrom(route) {
		c.fail("request %s: no From header", name)
	}

	rec := httptest.NewRecorder()
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.next.ServeHTTP(rec, r)
	if r.Context().Err() != nil {
		// The client gave up (timeout): no answer was delivered.
		return
	}

	// Injected faults (429 on any route, 5xx) are not in the document for
	// every operation; their shape is PagerDuty's error envelope, checked
	// by the fake's own tests.
	if rec.Code != http.StatusTooManyRequests && rec.Code < 500 {
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 rec.Code,
			Header:                 rec.Header(),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			c.fail("answer %d to %s: %s: %v", rec.Code, name, truncate(rec.Body.String(), 400), err)
		}
	}
	c.mu.Lock()
	c.checked++
	c.mu.Unlock()

	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func isWrite(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete
}

// needsFrom reports whether the operation declares the From header.
func needsFrom(route *routers.Route) bool {
	if route.Operation == nil {
		return false
	}
	for _, p := range route.Operation.Parameters {
		if p.Value != nil && p.Value.In == "header" && p.Value.Name == "From" {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// TestContractPatchesApply loads the document: every patch still finds its
// target and the patched document validates.
func TestContractPatchesApply(t *testing.T) {
	r := contractRouter(t)
	req := httptest.NewRequest(http.MethodPost, "/incidents/PABC123/notes", nil)
	route, params, err := r.FindRoute(req)
	if err != nil {
		t.Fatalf("FindRoute(POST /incidents/{id}/notes) = %v", err)
	}
	if route.Path != "/incidents/{id}/notes" || params["id"] != "PABC123" {
		t.Errorf("FindRoute = %s %v, want /incidents/{id}/notes id=PABC123", route.Path, params)
	}
	if route.Operation.Responses.Status(201) == nil {
		t.Error("POST /incidents/{id}/notes does not declare 201 after patching")
	}
}

// TestContractCatchesMismatch proves the middleware fails on a request
// outside the contract (a note without content) and an answer outside it.
func TestContractCatchesMismatch(t *testing.T) {
	ft := &fakeT{TB: t}
	bad := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"note":{"content":42}}`))
	})
	cc := newContractCheck(ft, bad)
	req := httptest.NewRequest(http.MethodPost, "/incidents/PABC123/notes", strings.NewReader(`{"note":{}}`))
	req.Header.Set("Content-Type", "application/json")
	cc.ServeHTTP(httptest.NewRecorder(), req)
	ft.runCleanups()
	if len(ft.errors) < 2 {
		t.Fatalf("contract check reported %d problems, want the request and the answer (and the From header): %q", len(ft.errors), ft.errors)
	}
	joined := strings.Join(ft.errors, "\n")
	for _, want := range []string{"request POST", "answer 201", "no From header"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems %q do not mention %q", joined, want)
		}
	}
}

// fakeT records errors and cleanups instead of failing the test.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeT) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
