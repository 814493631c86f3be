package pagerduty

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAPIEndpoint    = "https://api.pagerduty.com"
	DefaultRateLimit      = 900 // requests per minute
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxRetries     = 6
	DefaultRetryWait      = 250 * time.Millisecond
	DefaultMaxRetryWait   = 60 * time.Second
	DefaultCacheTTL       = 10 * time.Minute
)

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// APIKey is the PagerDuty REST API key (required).
	APIKey string
	// UserEmail is the PagerDuty user writes are made as (the From header);
	// required.
	UserEmail string
	// APIEndpoint is the REST API base URL (default DefaultAPIEndpoint; the
	// EU service is https://api.eu.pagerduty.com).
	APIEndpoint string
	// RateLimit is the client-side limit in requests per minute (default
	// DefaultRateLimit). Bursts of up to one second's worth are allowed.
	RateLimit int
	// RequestTimeout bounds each attempt of a call (default
	// DefaultRequestTimeout).
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
	// CacheTTL is how long user and service lookups are cached (default
	// DefaultCacheTTL).
	CacheTTL time.Duration
	// HTTPClient, when set, provides the base transport (tests).
	HTTPClient *http.Client
}

// withDefaults returns the configuration with defaults applied, or why it
// cannot be used.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("api_key is empty"))
	}
	if strings.TrimSpace(c.UserEmail) == "" {
		errs = append(errs, errors.New("user_email is empty"))
	}
	if c.APIEndpoint == "" {
		c.APIEndpoint = DefaultAPIEndpoint
	}
	c.APIEndpoint = strings.TrimRight(c.APIEndpoint, "/")
	if c.RateLimit <= 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
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
	if c.CacheTTL <= 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, nil
}
