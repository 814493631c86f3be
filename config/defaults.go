package config

import "time"

// Defaults returns the value used for every key a file leaves out; this
// file is the one place the defaults of the blocks and of the built-in
// pager kinds are written down (adapters and use cases take them from the
// Config, never from constants of their own), and `pagergate configure`
// prints them (see Annotated). A pager kind added later keeps its defaults
// next to its block struct, in its own file.
//
// Pager holds the defaults of pager "pagerduty" (FakeDefaults has the
// fake's), and Webhook holds the values used inside a webhook block,
// although a file without one has no webhook. Required keys without a
// default (teleport addr, pager api_key and user_email, webhook tls files)
// are empty.
func Defaults() Config {
	return Config{
		Teleport: TeleportSettings{
			ApprovalMode: ApprovalAuto,
			DialTimeout:  30 * time.Second,
		},
		Pager: PagerSettings{
			Kind:                    PagerPagerDuty,
			Name:                    "PagerDuty",
			PluginName:              "pagerduty",
			NotifyServiceAnnotation: "pagerduty_notify_service",
			ServicesAnnotation:      "pagerduty_services",
			Vendor:                  pagerDutyDefaults(),
		},
		AutoApprove: AutoApproveSettings{
			Enabled:            true,
			MaxEscalationLevel: 0,
		},
		Store: StoreSettings{
			Kind:      StoreBolt,
			Path:      "/var/lib/pagergate/state.db",
			Retention: 168 * time.Hour,
		},
		Webhook: &WebhookSettings{
			ListenAddr:      ":8443",
			Approvers:       ApproversOnCall,
			OnManualResolve: ManualResolveIgnore,
			ReplayWindow:    72 * time.Hour,
			TLS: TLSSettings{
				AllowedClientCNs: []string{"webhooks.pagerduty.com", "webhooks.eu.pagerduty.com"},
			},
		},
		Log: LogSettings{
			Output:   "stderr",
			Severity: "info",
			Format:   "text",
		},
		Metrics: MetricsSettings{
			ListenAddr: "127.0.0.1:9464",
		},
		Memory: MemorySettings{
			ReleaseWhenIdle: true,
			IdleAfter:       5 * time.Second,
		},
		Workers: 32,
	}
}

func pagerDutyDefaults() *PagerDutySettings {
	return &PagerDutySettings{
		APIEndpoint:    "https://api.pagerduty.com",
		RateLimit:      900,
		RequestTimeout: 10 * time.Second,
		CacheTTL:       10 * time.Minute,
	}
}

// FakeDefaults returns the defaults of a `pager "fake" {}` block: those of
// PagerDuty, plus a token and bot email the fake accepts, no API endpoint
// (the fake's address is known once it listens) and its listen address.
func FakeDefaults() PagerSettings {
	p := Defaults().Pager
	pd := *pagerDutyDefaults()
	pd.APIKey = "fake-api-key"
	pd.UserEmail = "pagergate@example.com"
	pd.APIEndpoint = ""
	p.Kind = PagerFake
	p.Vendor = &FakeSettings{PagerDuty: pd, ListenAddr: "127.0.0.1:0"}
	return p
}

// fakeLevel is the escalation level of a fake on_call block without one.
const fakeLevel = 1

// StoreBolt is the only store kind.
const StoreBolt = "bbolt"
