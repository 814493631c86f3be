package teleportroles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gravitational/teleport/api/types"
	yaml "go.yaml.in/yaml/v3"
)

const (
	communityFile  = "../teleport-roles-community.yaml"
	enterpriseFile = "../teleport-roles-enterprise.yaml"

	pluginUser = "pagergate"
	// The annotation keys pagergate reads by default (SPEC §3, §4).
	notifyKey   = "pagerduty_notify_service"
	servicesKey = "pagerduty_services"
)

// presetRoles are the roles every Teleport cluster has; a file may refer
// to them without defining them.
var presetRoles = []string{"access", "editor", "auditor"}

// resources is one file's resources, decoded into the Teleport api types.
type resources struct {
	roles map[string]*types.RoleV6
	users map[string]*types.UserV2
}

// load decodes every YAML document of path strictly (an unknown field,
// such as a misspelt review_requests, is an error) into Teleport's own
// types and runs their CheckAndSetDefaults, as tctl create does first.
func load(t *testing.T, path string) resources {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := resources{roles: map[string]*types.RoleV6{}, users: map[string]*types.UserV2{}}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for n := 1; ; n++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, n, err)
		}
		if err := res.add(doc); err != nil {
			t.Fatalf("%s: document %d: %v", path, n, err)
		}
	}
	return res
}

func (r resources) add(doc map[string]any) error {
	j, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	strict := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(j))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	switch doc["kind"] {
	case types.KindRole:
		role := &types.RoleV6{}
		if err := strict(role); err != nil {
			return err
		}
		if err := role.CheckAndSetDefaults(); err != nil {
			return fmt.Errorf("role %s: %w", role.GetName(), err)
		}
		if _, dup := r.roles[role.GetName()]; dup {
			return fmt.Errorf("role %s defined twice", role.GetName())
		}
		r.roles[role.GetName()] = role
	case types.KindUser:
		user := &types.UserV2{}
		if err := strict(user); err != nil {
			return err
		}
		if err := user.CheckAndSetDefaults(); err != nil {
			return fmt.Errorf("user %s: %w", user.GetName(), err)
		}
		r.users[user.GetName()] = user
	default:
		return fmt.Errorf("unexpected kind %v", doc["kind"])
	}
	return nil
}

// role returns a role of the file; it fails the test if there is none.
func (r resources) role(t *testing.T, name string) *types.RoleV6 {
	t.Helper()
	role, ok := r.roles[name]
	if !ok {
		t.Fatalf("no role %s", name)
	}
	return role
}

// verbs returns the verbs a role allows on a resource kind.
func verbs(role *types.RoleV6, kind string) []string {
	var out []string
	for _, rule := range role.GetRules(types.Allow) {
		if slices.Contains(rule.Resources, kind) {
			out = append(out, rule.Verbs...)
		}
	}
	slices.Sort(out)
	return out
}

// requesters returns the roles that request others, by name.
func (r resources) requesters() map[string]types.AccessRequestConditions {
	out := map[string]types.AccessRequestConditions{}
	for name, role := range r.roles {
		if c := role.GetAccessRequestConditions(types.Allow); len(c.Roles) > 0 {
			out[name] = c
		}
	}
	return out
}

// checkCommon checks what both editions share: the plugin user and its
// role, the impersonator role of the official guides, the guide's
// requester roles with pagergate's annotation keys, and that every role a
// resource names exists.
func checkCommon(t *testing.T, r resources) {
	t.Helper()
	user, ok := r.users[pluginUser]
	if !ok {
		t.Fatalf("no user %s", pluginUser)
	}
	if got := user.GetRoles(); !slices.Equal(got, []string{pluginUser}) {
		t.Errorf("user %s has roles %q, want only its own role", pluginUser, got)
	}
	plugin := r.role(t, pluginUser)
	if got := verbs(plugin, types.KindAccessPluginData); !slices.Equal(got, []string{"update"}) {
		t.Errorf("role %s: access_plugin_data verbs %q, want [update]", pluginUser, got)
	}
	// Routing by access monitoring rules, whose conditions may read the
	// requester's traits (README: Routing rules).
	if got := verbs(plugin, types.KindAccessMonitoringRule); !slices.Equal(got, []string{"list", "read"}) {
		t.Errorf("role %s: access_monitoring_rule verbs %q, want [list read]", pluginUser, got)
	}
	if got := verbs(plugin, types.KindUser); !slices.Equal(got, []string{"read"}) {
		t.Errorf("role %s: user verbs %q, want [read]", pluginUser, got)
	}
	// auto_approve.bind_to_shift: UpsertLock checks both verbs.
	if got := verbs(plugin, types.KindLock); !slices.Equal(got, []string{"create", "update"}) {
		t.Errorf("role %s: lock verbs %q, want [create update]", pluginUser, got)
	}
	imp := r.role(t, pluginUser+"-impersonator").GetImpersonateConditions(types.Allow)
	if !slices.Equal(imp.Users, []string{pluginUser}) || !slices.Equal(imp.Roles, []string{pluginUser}) {
		t.Errorf("impersonator role: users %q roles %q, want exactly the plugin's", imp.Users, imp.Roles)
	}
	for _, name := range []string{"editor-requester", "demo-role-requester", "demo-role"} {
		r.role(t, name)
	}
	for name, c := range r.requesters() {
		if len(c.Annotations[notifyKey]) == 0 {
			t.Errorf("requester role %s: no %s annotation, so its requests page nobody", name, notifyKey)
		}
		for key := range c.Annotations {
			if key != notifyKey && key != servicesKey {
				t.Errorf("requester role %s: annotation %s is not one pagergate reads", name, key)
			}
		}
	}
	named := append(slices.Clone(user.GetRoles()), imp.Roles...)
	for _, role := range r.roles {
		named = append(named, role.GetAccessRequestConditions(types.Allow).Roles...)
		named = append(named, role.GetAccessReviewConditions(types.Allow).Roles...)
	}
	for _, name := range named {
		if _, ok := r.roles[name]; !ok && !slices.Contains(presetRoles, name) {
			t.Errorf("role %s is named but neither defined in the file nor a Teleport preset", name)
		}
	}
}

// communityRefusals mirrors the role fields Teleport Community Edition
// refuses at creation (checkRoleFeatureSupport in Teleport's auth server):
// the real-Teleport e2e suite proves the file against a real one.
func communityRefusals(role *types.RoleV6) []string {
	var out []string
	opts := role.GetOptions()
	req := role.GetAccessRequestConditions(types.Allow)
	if opts.MaxSessions > 0 {
		out = append(out, "options.max_sessions")
	}
	if opts.RequestAccess == types.RequestStrategyReason || opts.RequestAccess == types.RequestStrategyAlways {
		out = append(out, "options.request_access")
	}
	if opts.PinSourceIP {
		out = append(out, "options.pin_source_ip")
	}
	if len(req.Thresholds) > 0 {
		out = append(out, "allow.request.thresholds")
	}
	if len(req.SearchAsRoles) > 0 {
		out = append(out, "allow.request.search_as_roles")
	}
	if !role.GetAccessReviewConditions(types.Allow).IsZero() {
		out = append(out, "allow.review_requests")
	}
	return out
}

func TestCommunityRoles(t *testing.T) {
	r := load(t, communityFile)
	checkCommon(t, r)
	for name, role := range r.roles {
		if refused := communityRefusals(role); len(refused) > 0 {
			t.Errorf("role %s: Community Edition refuses %s", name, strings.Join(refused, ", "))
		}
	}
	// set_state: the plugin sets the request's state.
	if got := verbs(r.role(t, pluginUser), types.KindAccessRequest); !slices.Equal(got, []string{"list", "read", "update"}) {
		t.Errorf("role %s: access_request verbs %q, want list, read, update (set_state)", pluginUser, got)
	}
}

func TestEnterpriseRoles(t *testing.T) {
	r := load(t, enterpriseFile)
	checkCommon(t, r)
	plugin := r.role(t, pluginUser)
	// review: the plugin approves with a review, never by setting the state.
	if got := verbs(plugin, types.KindAccessRequest); !slices.Equal(got, []string{"list", "read"}) {
		t.Errorf("role %s: access_request verbs %q, want exactly list, read", pluginUser, got)
	}
	rev := plugin.GetAccessReviewConditions(types.Allow)
	if rev.Where == "" {
		t.Errorf("role %s: review_requests has no where: it could approve any request for its roles", pluginUser)
	}
	for name, c := range r.requesters() {
		if len(c.Thresholds) == 0 {
			t.Errorf("requester role %s: no review thresholds", name)
		}
		for _, want := range c.Roles {
			if !slices.Contains(rev.Roles, want) {
				t.Errorf("requester role %s asks for %s, which the plugin may not review", name, want)
			}
		}
		// Every service a requester names must pass the where, or the
		// plugin's reviews of those requests are refused.
		for _, key := range []string{notifyKey, servicesKey} {
			for _, svc := range c.Annotations[key] {
				clause := fmt.Sprintf("contains(request.system_annotations[%q], %q)", key, svc)
				if !strings.Contains(rev.Where, clause) {
					t.Errorf("requester role %s: %s %q is not allowed by the plugin's where %q", name, key, svc, rev.Where)
				}
			}
		}
	}
	if refused := communityRefusals(plugin); !slices.Contains(refused, "allow.review_requests") {
		t.Errorf("the Enterprise plugin role should review (allow.review_requests), got refusals %q", refused)
	}
}

// TestREADMENamesTheRoleFiles keeps README.md's Teleport section pointing
// at the shipped files.
func TestREADMENamesTheRoleFiles(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{communityFile, enterpriseFile} {
		if want := strings.TrimPrefix(f, "../"); !bytes.Contains(b, []byte("deploy/"+want)) {
			t.Errorf("README.md does not mention deploy/%s", want)
		}
	}
}
