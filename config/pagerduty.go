package config

import (
	"net/url"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// PagerDutySettings are the settings of `pager "pagerduty" {}` of their
// own, and of the PagerDuty client the fake pager runs.
type PagerDutySettings struct {
	// APIKey is the REST API token. Required.
	APIKey Secret
	// UserEmail is the bot user incidents are opened as (the From
	// header). Required.
	UserEmail string
	// APIEndpoint is the REST API base URL. Default
	// "https://api.pagerduty.com"; for the fake, its address once it
	// listens.
	APIEndpoint string
	// RateLimit is the client-side limit in requests per minute. Default
	// 900.
	RateLimit int
	// RequestTimeout bounds each API call. Default 10s.
	RequestTimeout time.Duration
	// CacheTTL is how long user and service lookups are cached. Default
	// 10m. On-call status is never cached.
	CacheTTL time.Duration
}

// PagerDuty is the body of `pager "pagerduty" {}` past the shared keys,
// as decoded; the fake pager's body starts with the same keys.
type PagerDuty struct {
	APIKey         string `hcl:"api_key,optional"`
	UserEmail      string `hcl:"user_email,optional"`
	APIEndpoint    string `hcl:"api_endpoint,optional"`
	Urgency        string `hcl:"urgency,optional"`
	RateLimit      *int   `hcl:"rate_limit,optional"` // requests per minute
	RequestTimeout string `hcl:"request_timeout,optional"`
	CacheTTL       string `hcl:"cache_ttl,optional"`

	// Remain is what is left for the fake pager's own keys.
	Remain hcl.Body `hcl:",remain"`
}

// maxRateLimit bounds pager.rate_limit (requests per minute).
const maxRateLimit = 100000

func init() {
	registerPager(PagerPagerDuty, pagerKind{
		defaults: func() PagerSettings { return Defaults().Pager },
		decode: func(c *checker, body hcl.Body, b block) any {
			var p PagerDuty
			c.decode(body, &p)
			// The fake's keys get a message of their own; anything else
			// is an unsupported argument, as everywhere.
			fakeKeys, _ := gohcl.ImpliedBodySchema(Fake{})
			rest := c.rejectKeys(p.Remain, fakeKeys, b, "PagerDuty",
				"%s belongs to pager \"fake\" only; a PagerDuty account holds its own users, services and on-call schedules.")
			c.decode(rest, &struct{}{})
			return &p
		},
		check: func(c *checker, decoded any, b block, d PagerSettings, out *PagerSettings) any {
			p := decoded.(*PagerDuty)
			c.required(b, "api_key", p.APIKey, " Keep it out of the file: api_key = env(\"PAGERDUTY_API_KEY\") or file(\"/path/to/key\").")
			if c.required(b, "user_email", p.UserEmail, " It is the PagerDuty user incidents are opened as.") {
				c.email(b, "user_email", p.UserEmail)
			}
			if p.APIEndpoint != "" {
				c.apiEndpoint(b, p.APIEndpoint)
			}
			return c.pagerDuty(p, b, d.Vendor.(*PagerDutySettings), out)
		},
	})
}

// pagerDuty checks the PagerDuty keys both kinds share and applies the
// defaults d; urgency goes to out.
func (c *checker) pagerDuty(p *PagerDuty, b block, d *PagerDutySettings, out *PagerSettings) *PagerDutySettings {
	s := &PagerDutySettings{
		APIKey:         Secret(orDefault(p.APIKey, d.APIKey.Value())),
		UserEmail:      orDefault(p.UserEmail, d.UserEmail),
		APIEndpoint:    orDefault(p.APIEndpoint, d.APIEndpoint),
		RateLimit:      d.RateLimit,
		RequestTimeout: c.duration(b, "request_timeout", p.RequestTimeout, d.RequestTimeout),
		CacheTTL:       c.duration(b, "cache_ttl", p.CacheTTL, d.CacheTTL),
	}
	if p.Urgency != "" {
		out.Urgency = c.oneOf(b, "urgency", p.Urgency, "", "high", "low")
	}
	if p.RateLimit != nil {
		// PagerDuty allows 960 requests per minute per key and answers 429
		// beyond, which the client honours; higher limits serve the fake
		// and API proxies.
		if r := *p.RateLimit; r < 1 || r > maxRateLimit {
			c.errorf(b.value("rate_limit"), "Invalid value",
				"%s must be between 1 and %d requests per minute (PagerDuty's own limit is 960 per API key); got %d.", b.key("rate_limit"), maxRateLimit, r)
		} else {
			s.RateLimit = r
		}
	}
	return s
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (c *checker) apiEndpoint(b block, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		c.errorf(b.value("api_endpoint"), "Invalid API endpoint",
			"%s must be an https URL such as \"https://api.eu.pagerduty.com\"; got %q.", b.key("api_endpoint"), raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		c.errorf(b.value("api_endpoint"), "Insecure API endpoint",
			"%s must use https; plain http is allowed only for loopback hosts (a local fake); got %q.", b.key("api_endpoint"), raw)
	default:
		c.errorf(b.value("api_endpoint"), "Invalid API endpoint",
			"%s must be an https URL such as \"https://api.eu.pagerduty.com\"; got %q.", b.key("api_endpoint"), raw)
	}
}
