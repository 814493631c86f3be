package config

import "github.com/hashicorp/hcl/v2"

// File is a whole pagergate configuration file (SPEC §9) as gohcl decodes
// it: values as written, before defaults and validation. Load and Parse turn
// it into a Config.
//
// The Body and DefRange fields of each block are filled by gohcl; they let
// validation point at the attribute or block a problem is about.
type File struct {
	Teleport Teleport `hcl:"teleport,block"`
	Pagers   []Pager  `hcl:"pager,block"`
	Stores   []Store  `hcl:"store,block"`
	Webhook  *Webhook `hcl:"webhook,block"`
	Log      *Log     `hcl:"log,block"`
	Metrics  *Metrics `hcl:"metrics,block"`
	Workers  *int     `hcl:"workers,optional"`

	Body hcl.Body `hcl:",body"`
}

// Teleport is the `teleport {}` block.
type Teleport struct {
	Addr            string `hcl:"addr"`
	Identity        string `hcl:"identity,optional"`
	RefreshIdentity bool   `hcl:"refresh_identity,optional"`
	ClientCrt       string `hcl:"client_crt,optional"`
	ClientKey       string `hcl:"client_key,optional"`
	RootCAs         string `hcl:"root_cas,optional"`
	ApprovalMode    string `hcl:"approval_mode,optional"` // review | set_state | auto
	DialTimeout     string `hcl:"dial_timeout,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// Pager is the `pager "<kind>" {}` block; kind is "pagerduty" or "fake".
type Pager struct {
	Kind        string `hcl:"kind,label"`
	APIKey      string `hcl:"api_key,optional"`
	UserEmail   string `hcl:"user_email,optional"`
	APIEndpoint string `hcl:"api_endpoint,optional"`

	NotifyServiceAnnotation string `hcl:"notify_service_annotation,optional"`
	ServicesAnnotation      string `hcl:"services_annotation,optional"`
	DefaultNotifyService    string `hcl:"default_notify_service,optional"`
	Urgency                 string `hcl:"urgency,optional"`
	Priority                string `hcl:"priority,optional"`

	RateLimit      *int   `hcl:"rate_limit,optional"` // requests per minute
	RequestTimeout string `hcl:"request_timeout,optional"`
	CacheTTL       string `hcl:"cache_ttl,optional"`

	AutoApprove *AutoApprove `hcl:"auto_approve,block"`

	// Only for kind "fake": where the in-process fake listens and what it
	// holds at start.
	ListenAddr string        `hcl:"listen_addr,optional"`
	SeedFile   string        `hcl:"seed_file,optional"`
	Users      []FakeUser    `hcl:"user,block"`
	Services   []FakeService `hcl:"service,block"`
	OnCalls    []FakeOnCall  `hcl:"on_call,block"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// AutoApprove is the `auto_approve {}` block (SPEC §4).
type AutoApprove struct {
	Enabled               *bool             `hcl:"enabled,optional"`
	MaxEscalationLevel    int               `hcl:"max_escalation_level,optional"`
	RequireActiveIncident bool              `hcl:"require_active_incident,optional"`
	BindToShift           bool              `hcl:"bind_to_shift,optional"`
	AllowedRoles          []string          `hcl:"allowed_roles,optional"`
	DeniedRoles           []string          `hcl:"denied_roles,optional"`
	UserMap               map[string]string `hcl:"user_map,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// FakeUser is a `user "<email>" {}` block of the fake pager.
type FakeUser struct {
	Email string `hcl:"email,label"`
	Name  string `hcl:"name,optional"`

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// FakeService is a `service "<name>" {}` block of the fake pager.
type FakeService struct {
	Name string `hcl:"name,label"`
	ID   string `hcl:"id,optional"`

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// FakeOnCall is an `on_call {}` block of the fake pager: user is on call
// for the service's escalation policy at level.
type FakeOnCall struct {
	User    string `hcl:"user"`
	Service string `hcl:"service"`
	Level   int    `hcl:"level,optional"` // default 1

	// DefRange is where the block was written; zero in a Config.
	DefRange hcl.Range `hcl:",def_range"`
}

// Store is the `store "bbolt" {}` block.
type Store struct {
	Kind      string `hcl:"kind,label"`
	Path      string `hcl:"path,optional"`
	Retention string `hcl:"retention,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// Webhook is the `webhook {}` block (SPEC §6).
type Webhook struct {
	ListenAddr     string   `hcl:"listen_addr,optional"`
	PublicAddr     string   `hcl:"public_addr,optional"`
	SigningSecrets []string `hcl:"signing_secrets,optional"`
	InsecureNoAuth bool     `hcl:"insecure_no_auth,optional"`

	SharedSecretHeader string `hcl:"shared_secret_header,optional"`
	SharedSecret       string `hcl:"shared_secret,optional"`

	Approvers        string `hcl:"approvers,optional"`         // on_call | any
	OnManualResolve  string `hcl:"on_manual_resolve,optional"` // ignore | deny
	ProvisionActions bool   `hcl:"provision_actions,optional"`
	ApproveWorkflow  string `hcl:"approve_workflow,optional"`
	DenyWorkflow     string `hcl:"deny_workflow,optional"`
	ReplayWindow     string `hcl:"replay_window,optional"`

	BasicAuth *BasicAuth `hcl:"basic_auth,block"`
	TLS       *TLS       `hcl:"tls,block"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// BasicAuth is the `basic_auth {}` block.
type BasicAuth struct {
	User     string `hcl:"user"`
	Password string `hcl:"password"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// TLS is the webhook's `tls {}` block.
type TLS struct {
	CertFile         string   `hcl:"cert_file"`
	KeyFile          string   `hcl:"key_file"`
	ClientCAFile     string   `hcl:"client_ca_file,optional"`
	AllowedClientCNs []string `hcl:"allowed_client_cns,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// Log is the `log {}` block.
type Log struct {
	Output   string `hcl:"output,optional"`   // stderr | stdout | a file path
	Severity string `hcl:"severity,optional"` // debug | info | warn | error
	Format   string `hcl:"format,optional"`   // text | json

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// Metrics is the `metrics {}` block.
type Metrics struct {
	ListenAddr string `hcl:"listen_addr,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}
