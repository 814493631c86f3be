package teleporttest

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/gravitational/teleport/api/client/proto"
	amrpb "github.com/gravitational/teleport/api/gen/proto/go/teleport/accessmonitoringrules/v1"
	headerv1 "github.com/gravitational/teleport/api/gen/proto/go/teleport/header/v1"
	userspb "github.com/gravitational/teleport/api/gen/proto/go/teleport/users/v1"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"
	"google.golang.org/grpc"
	gproto "google.golang.org/protobuf/proto"
)

// Rule is an access monitoring rule as tests write it.
type Rule struct {
	Name string
	// Subjects default to access_request.
	Subjects  []string
	Condition string
	// Plugin is notification.name: the plugin the rule routes for.
	Plugin     string
	Recipients []string
}

// Rule list page sizes: Teleport's default and cap.
const (
	defaultRulePage = 1000
	maxRulePage     = 1000
)

// registerRules serves the access monitoring rules and users services
// next to the Auth Service (rules answer Unimplemented under NoRules).
func (s *Server) registerRules(g *grpc.Server) {
	if !s.opts.NoRules {
		amrpb.RegisterAccessMonitoringRulesServiceServer(g, &rulesService{s: s})
	}
	userspb.RegisterUsersServiceServer(g, &usersService{s: s})
}

// UpsertRule creates or replaces a rule and emits an OpPut to the watch
// streams that confirmed the kind. Like Teleport, the server checks the
// rule's shape (name, subjects, condition present), not its condition:
// what the condition says is for its readers to judge.
func (s *Server) UpsertRule(r Rule) error {
	if r.Name == "" || strings.TrimSpace(r.Condition) == "" {
		return trace.BadParameter("access monitoring rule needs a name and a condition")
	}
	if len(r.Subjects) == 0 {
		r.Subjects = []string{types.KindAccessRequest}
	}
	rule := &amrpb.AccessMonitoringRule{
		Kind:     types.KindAccessMonitoringRule,
		Version:  types.V1,
		Metadata: &headerv1.Metadata{Name: r.Name, Revision: uuid.NewString()},
		Spec: &amrpb.AccessMonitoringRuleSpec{
			Subjects:     slices.Clone(r.Subjects),
			Condition:    r.Condition,
			Notification: &amrpb.Notification{Name: r.Plugin, Recipients: slices.Clone(r.Recipients)},
		},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rules == nil {
		s.rules = map[string]*amrpb.AccessMonitoringRule{}
	}
	s.rules[r.Name] = rule
	s.emitLocked(types.Event{Type: types.OpPut, Resource: types.Resource153ToLegacy(gproto.Clone(rule).(*amrpb.AccessMonitoringRule))})
	return nil
}

// DeleteRule deletes a rule and emits an OpDelete.
func (s *Server) DeleteRule(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rules[name]; !ok {
		return trace.NotFound("access monitoring rule %q not found", name)
	}
	delete(s.rules, name)
	s.emitLocked(types.Event{Type: types.OpDelete, Resource: &types.ResourceHeader{
		Kind:     types.KindAccessMonitoringRule,
		Version:  types.V1,
		Metadata: types.Metadata{Name: name},
	}})
	return nil
}

// SetTraits sets the traits of a user (read back by the users service).
func (s *Server) SetTraits(user string, traits map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.traits == nil {
		s.traits = map[string]map[string][]string{}
	}
	s.traits[user] = maps.Clone(traits)
}

type rulesService struct {
	amrpb.UnimplementedAccessMonitoringRulesServiceServer
	s *Server
}

// allowed checks the caller may read rules (access_monitoring_rule:
// list, read).
func (r *rulesService) allowed(ctx context.Context, verb string) error {
	user, perms, err := (&authService{s: r.s}).caller(ctx)
	if err != nil {
		return err
	}
	if !perms.ReadRules {
		return denied(user, verb, types.KindAccessMonitoringRule)
	}
	return nil
}

// GetAccessMonitoringRule returns one rule.
func (r *rulesService) GetAccessMonitoringRule(ctx context.Context, req *amrpb.GetAccessMonitoringRuleRequest) (*amrpb.AccessMonitoringRule, error) {
	if err := r.allowed(ctx, "read"); err != nil {
		return nil, err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	rule, ok := r.s.rules[req.Name]
	if !ok {
		return nil, trace.NotFound("access monitoring rule %q not found", req.Name)
	}
	return gproto.Clone(rule).(*amrpb.AccessMonitoringRule), nil
}

// ListAccessMonitoringRules lists every rule, by name, a page at a time.
func (r *rulesService) ListAccessMonitoringRules(ctx context.Context, req *amrpb.ListAccessMonitoringRulesRequest) (*amrpb.ListAccessMonitoringRulesResponse, error) {
	page, next, err := r.list(ctx, req.PageSize, req.PageToken, nil, "")
	if err != nil {
		return nil, err
	}
	return &amrpb.ListAccessMonitoringRulesResponse{Rules: page, NextPageToken: next}, nil
}

// ListAccessMonitoringRulesWithFilter lists the rules whose subjects
// include every subject asked for and whose notification names the
// plugin asked for.
func (r *rulesService) ListAccessMonitoringRulesWithFilter(ctx context.Context, req *amrpb.ListAccessMonitoringRulesWithFilterRequest) (*amrpb.ListAccessMonitoringRulesWithFilterResponse, error) {
	page, next, err := r.list(ctx, req.PageSize, req.PageToken, req.Subjects, req.NotificationName)
	if err != nil {
		return nil, err
	}
	return &amrpb.ListAccessMonitoringRulesWithFilterResponse{Rules: page, NextPageToken: next}, nil
}

func (r *rulesService) list(ctx context.Context, size int64, token string, subjects []string, plugin string) ([]*amrpb.AccessMonitoringRule, string, error) {
	if err := r.allowed(ctx, "list"); err != nil {
		return nil, "", err
	}
	if size <= 0 {
		size = defaultRulePage
	}
	size = min(size, maxRulePage)
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.ListAccessMonitoringRules++
	var page []*amrpb.AccessMonitoringRule
	for _, name := range slices.Sorted(maps.Keys(s.rules)) {
		rule := s.rules[name]
		if name < token || !ruleMatches(rule, subjects, plugin) {
			continue
		}
		if int64(len(page)) == size {
			return page, name, nil
		}
		page = append(page, gproto.Clone(rule).(*amrpb.AccessMonitoringRule))
	}
	return page, "", nil
}

func ruleMatches(rule *amrpb.AccessMonitoringRule, subjects []string, plugin string) bool {
	if plugin != "" && rule.GetSpec().GetNotification().GetName() != plugin {
		return false
	}
	for _, want := range subjects {
		if !slices.Contains(rule.GetSpec().GetSubjects(), want) {
			return false
		}
	}
	return true
}

type usersService struct {
	userspb.UnimplementedUsersServiceServer
	s *Server
}

// GetUser returns a user with its traits (user: read).
func (u *usersService) GetUser(ctx context.Context, req *userspb.GetUserRequest) (*userspb.GetUserResponse, error) {
	caller, perms, err := (&authService{s: u.s}).caller(ctx)
	if err != nil {
		return nil, err
	}
	name := req.Name
	if req.CurrentUser {
		name = caller
	}
	if name != caller && !perms.ReadUsers {
		return nil, denied(caller, "read", types.KindUser)
	}
	s := u.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.GetUser++
	traits, ok := s.traits[name]
	if _, known := s.users[name]; !ok && !known {
		return nil, trace.NotFound("user %q is not found", name)
	}
	user, err := types.NewUser(name)
	if err != nil {
		return nil, err
	}
	user.SetTraits(maps.Clone(traits))
	return &userspb.GetUserResponse{User: user.(*types.UserV2)}, nil
}

// confirmKinds returns the kinds a watch streams, as Teleport decides: a
// kind the caller may not read, or the server does not serve, fails the
// watch, or is left out of the confirmation when the watch allows partial
// success; a watch left with no kind fails.
func (s *Server) confirmKinds(user string, perms Perms, req *proto.Watch) ([]types.WatchKind, error) {
	if len(req.Kinds) == 0 {
		return nil, trace.AccessDenied("can't setup global watch")
	}
	var kinds []types.WatchKind
	for _, k := range req.Kinds {
		if err := s.watchable(user, perms, k); err != nil {
			if req.AllowPartialSuccess {
				continue
			}
			return nil, err
		}
		kinds = append(kinds, k)
	}
	if len(kinds) == 0 {
		return nil, trace.BadParameter("none of the requested kinds can be watched")
	}
	return kinds, nil
}

func (s *Server) watchable(user string, perms Perms, k types.WatchKind) error {
	switch k.Kind {
	case types.KindAccessRequest:
		if !perms.ReadRequests {
			return denied(user, "read", types.KindAccessRequest)
		}
	case types.KindAccessMonitoringRule:
		if s.opts.NoRules {
			return trace.BadParameter("watcher on object kind %q is not supported", k.Kind)
		}
		if !perms.ReadRules {
			return denied(user, "read", types.KindAccessMonitoringRule)
		}
	default:
		return trace.BadParameter("watching %q is not supported by this server", k.Kind)
	}
	return nil
}
