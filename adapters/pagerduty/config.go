package pagerduty

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// Defaults New applies to the zero retry fields of a Config; the settings
// users write (endpoint, rate limit, timeouts) come from the pager block,
// whose defaults are config.Defaults'.
const (
	DefaultMaxRetries   = 6
	DefaultRetryWait    = 250 * time.Millisecond
	DefaultMaxRetryWait = 60 * time.Second
)

// Config configures a Client. APIKey, UserEmail, APIEndpoint, RateLimit,
// RequestTimeout and CacheTTL are required; zero retry fields take the
// defaults above.
type Config struct {
	// APIKey is the PagerDuty REST API key (required).
	APIKey string
	// UserEmail is the PagerDuty user writes are made as (the From header);
	// required.
	UserEmail string
	// APIEndpoint is the REST API base URL (the EU service is
	// https://api.eu.pagerduty.com).
	APIEndpoint string
	// RateLimit is the client-side limit in requests per minute. Bursts of
	// up to one second's worth are allowed.
	RateLimit int
	// RequestTimeout bounds each attempt of a call.
	RequestTimeout time.Duration
	// MaxRetries is how many times a call is retried after a 429, a 5xx
	// answer or a transport failure (default DefaultMaxRetries; negative
	// means no retry).
	MaxRetries int
	// RetryWait is the first backoff wait; it doubles per retry, with
	// jitter (default DefaultRetryWait).
	RetryWait time.Duration
	// MaxRetryWait caps one backoff wait. A 429 asking to wait longer is not
	// retried (default DefaultMaxRetryWait); the wait it asks for, capped at
	// 60 s (PagerDuty's window), still holds every call back.
	MaxRetryWait time.Duration
	// CacheTTL is how long user and service lookups are cached.
	CacheTTL time.Duration
	// HTTPClient, when set, provides the base transport (tests).
	HTTPClient *http.Client
}

// withDefaults returns the configuration with the retry defaults applied,
// or why it cannot be used.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("api_key is empty"))
	}
	if strings.TrimSpace(c.UserEmail) == "" {
		errs = append(errs, errors.New("user_email is empty"))
	}
	if c.APIEndpoint == "" {
		errs = append(errs, errors.New("api_endpoint is empty"))
	}
	c.APIEndpoint = strings.TrimRight(c.APIEndpoint, "/")
	if c.RateLimit <= 0 || c.RequestTimeout <= 0 || c.CacheTTL <= 0 {
		errs = append(errs, errors.New("rate_limit, request_timeout and cache_ttl must be positive"))
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.RetryWait <= 0 {
		c.RetryWait = DefaultRetryWait
	}
	if c.MaxRetryWait <= 0 {
		c.MaxRetryWait = DefaultMaxRetryWait
	}
	if c.MaxRetryWait < c.RetryWait {
		c.MaxRetryWait = c.RetryWait
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, nil
}
