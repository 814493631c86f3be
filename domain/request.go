package domain

import (
	"fmt"
	"strings"
	"time"
)

// State is the state of an access request as pagergate sees it.
type State int

// Request states. A deleted request counts as StateExpired.
const (
	StateUnknown State = iota
	StatePending
	StateApproved
	StateDenied
	StatePromoted
	StateExpired
)

var stateNames = map[State]string{
	StateUnknown:  "UNKNOWN",
	StatePending:  "PENDING",
	StateApproved: "APPROVED",
	StateDenied:   "DENIED",
	StatePromoted: "PROMOTED",
	StateExpired:  "EXPIRED",
}

// String returns the upper-case name Teleport uses (PENDING, APPROVED…).
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Word returns the lower-case word used in notes and plugin data
// ("approved", "denied", "expired"…).
func (s State) Word() string { return strings.ToLower(s.String()) }

// ParseState reads a state name in any case; unknown names give StateUnknown.
func ParseState(s string) State {
	for st, n := range stateNames {
		if strings.EqualFold(n, s) {
			return st
		}
	}
	return StateUnknown
}

// Resolved reports whether the request has left the pending state for good.
func (s State) Resolved() bool {
	switch s {
	case StateApproved, StateDenied, StatePromoted, StateExpired:
		return true
	}
	return false
}

// Review is one access review submitted on a request.
type Review struct {
	Author  string
	State   State // StateApproved or StateDenied
	Reason  string
	Created time.Time
}

// Request is a Teleport access request, reduced to what pagergate uses.
type Request struct {
	ID                 string
	User               string
	Roles              []string
	Resources          []string
	Reason             string
	Created            time.Time
	Expires            time.Time
	RequestExpires     time.Time // when the pending request itself expires
	State              State
	ResolveReason      string
	SuggestedReviewers []string
	// Annotations are the request's system annotations (set by Teleport from
	// the requester's roles; users cannot forge them).
	Annotations map[string][]string
	Reviews     []Review
}

// EventKind says what happened to a request.
type EventKind int

// Kinds of watcher events.
const (
	// EventPut: a request was created or changed; Request holds it.
	EventPut EventKind = iota + 1
	// EventDelete: a request was deleted (it counts as expired); RequestID holds its ID.
	EventDelete
	// EventSynced: the watcher (re)connected and listed every pending request
	// and routing rule; Pending and Rules hold them and Cluster what Ping
	// reported. Events after it are newer than the lists.
	EventSynced
	// EventDisconnected: the watcher lost its stream; Err says why.
	EventDisconnected
	// EventRulePut: a routing rule addressed to this pager was created or
	// changed; Rule holds it.
	EventRulePut
	// EventRuleDelete: a routing rule was deleted, or no longer addresses
	// this pager; Rule.Name names it.
	EventRuleDelete
)

// String names the kind: put, delete, synced, disconnected, rule_put or
// rule_delete.
func (k EventKind) String() string {
	switch k {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventSynced:
		return "synced"
	case EventDisconnected:
		return "disconnected"
	case EventRulePut:
		return "rule_put"
	case EventRuleDelete:
		return "rule_delete"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Backlog is the list of pending requests of an EventSynced. Every copy
// of the event shares it, so the consumer that takes the list (Take)
// leaves none of them holding it: on a large cluster the list is
// megabytes, garbage once scheduled.
type Backlog struct{ requests []Request }

// NewBacklog returns a backlog of reqs.
func NewBacklog(reqs []Request) *Backlog { return &Backlog{requests: reqs} }

// Take returns the list and leaves the backlog empty; nil for a nil
// backlog.
func (b *Backlog) Take() []Request {
	if b == nil {
		return nil
	}
	r := b.requests
	b.requests = nil
	return r
}

// Requests returns the list without taking it; nil for a nil backlog.
func (b *Backlog) Requests() []Request {
	if b == nil {
		return nil
	}
	return b.requests
}

// Event is one notification from the Teleport watcher.
type Event struct {
	Kind      EventKind
	RequestID string
	Request   Request
	// Pending: with EventSynced, the pending requests.
	Pending *Backlog
	Cluster Cluster
	Err     error
	// Rules: with EventSynced, every routing rule, listed after the
	// (re)connect with the pending requests.
	Rules RuleSet
	// Rule: with EventRulePut and EventRuleDelete.
	Rule RoutingRule
}

// Cluster is what Ping reports about the Teleport cluster.
type Cluster struct {
	Name      string
	Version   string
	ProxyAddr string
	// AdvancedWorkflows reports the Advanced Access Workflows feature
	// (Teleport Enterprise): access reviews are available.
	AdvancedWorkflows bool
}

// ApprovalMode says how pagergate approves or denies a request (SPEC §4).
type ApprovalMode string

// Approval modes.
const (
	ModeReview   ApprovalMode = "review"
	ModeSetState ApprovalMode = "set_state"
	ModeAuto     ApprovalMode = "auto"
)

// Effective resolves ModeAuto against what the cluster supports.
func (m ApprovalMode) Effective(c Cluster) ApprovalMode {
	if m == ModeAuto || m == "" {
		if c.AdvancedWorkflows {
			return ModeReview
		}
		return ModeSetState
	}
	return m
}

// Verdict is an approval or denial pagergate submits to Teleport.
type Verdict struct {
	RequestID string
	State     State // StateApproved or StateDenied
	Reason    string
	Mode      ApprovalMode // ModeReview or ModeSetState (never ModeAuto)
	// Delegator names who the change is made for in set_state mode,
	// "<pager>:<email>" ("pagerduty:alice@example.com").
	Delegator string
}

// Delegator returns the delegator string for a user of the pager named
// pager (Policy.PagerID, such as "pagerduty") by email.
func Delegator(pager, email string) string { return pager + ":" + email }
