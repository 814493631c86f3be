package config

import "github.com/hashicorp/hcl/v2"

// File is a whole pagergate configuration file (SPEC §9) as gohcl decodes
// it: values as written, before defaults and validation. Load and Parse turn
// it into a Config.
//
// The Body and DefRange fields of each block are filled by gohcl; they let
// validation point at the attribute or block a problem is about.
type File struct {
	Teleport    Teleport     `hcl:"teleport,block"`
	Pagers      []Pager      `hcl:"pager,block"`
	AutoApprove *AutoApprove `hcl:"auto_approve,block"`
	Stores      []Store      `hcl:"store,block"`
	Webhook     *Webhook     `hcl:"webhook,block"`
	Log         *Log         `hcl:"log,block"`
	Metrics     *Metrics     `hcl:"metrics,block"`
	Memory      *Memory      `hcl:"memory,block"`
	Workers     *int         `hcl:"workers,optional"`

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

// Memory is the `memory {}` block.
type Memory struct {
	ReleaseWhenIdle *bool  `hcl:"release_when_idle,optional"`
	IdleAfter       string `hcl:"idle_after,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// Metrics is the `metrics {}` block.
type Metrics struct {
	ListenAddr string `hcl:"listen_addr,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}
