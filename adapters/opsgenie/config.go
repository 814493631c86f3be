package opsgenie

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pagergate/pagergate/adapters/opsgenie/httpretry"
	"github.com/pagergate/pagergate/domain"
)

// Opsgenie API base URLs.
const (
	DefaultAPIURL = "https://api.opsgenie.com"
	EUAPIURL      = "https://api.eu.opsgenie.com"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultSource         = "pagergate"
	DefaultUser           = "pagergate"
	DefaultRateLimit      = 600 // requests per minute
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxRetries     = 6
	DefaultRetryWait      = 250 * time.Millisecond
	DefaultMaxRetryWait   = 60 * time.Second
	DefaultCacheTTL       = 10 * time.Minute
	DefaultStatusWait     = 30 * time.Second
)

// Annotation names and alias prefix of Teleport's own Opsgenie plugin, the
// defaults of Conventions (drop-in users keep their roles).
const (
	AnnotationNotifySchedules = "teleport.dev/notify-services"
	AnnotationNotifyTeams     = "teleport.dev/teams"
	AnnotationSchedules       = "teleport.dev/schedules"
	AliasPrefix               = domain.IncidentKeyPrefix
)

// Conventions are the request annotations that pick Opsgenie targets.
type Conventions struct {
	// NotifySchedules names the annotation whose values are the schedules
	// to notify (default AnnotationNotifySchedules).
	NotifySchedules string
	// NotifyTeams names the annotation whose values are the teams to
	// notify (default AnnotationNotifyTeams).
	NotifyTeams string
	// ApprovalSchedules names the annotation whose values are the
	// schedules whose on-call responders get their own requests
	// auto-approved (default AnnotationSchedules).
	ApprovalSchedules string
}

// NotifyTargets returns the notify targets of a request's annotations, as
// FindService takes them: the schedules as they are, the teams as
// "team:<name>"; de-duplicated, in order.
func (c Conventions) NotifyTargets(annotations map[string][]string) []string {
	c = c.withDefaults()
	var out []string
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" && v != "team:" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range annotations[c.NotifySchedules] {
		add(v)
	}
	for _, v := range annotations[c.NotifyTeams] {
		add(targetTeam + ":" + strings.TrimSpace(v))
	}
	return out
}

// ApprovalTargets returns the approval schedules of a request's
// annotations, de-duplicated, in order.
func (c Conventions) ApprovalTargets(annotations map[string][]string) []string {
	c = c.withDefaults()
	var out []string
	for _, v := range annotations[c.ApprovalSchedules] {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func (c Conventions) withDefaults() Conventions {
	if c.NotifySchedules == "" {
		c.NotifySchedules = AnnotationNotifySchedules
	}
	if c.NotifyTeams == "" {
		c.NotifyTeams = AnnotationNotifyTeams
	}
	if c.ApprovalSchedules == "" {
		c.ApprovalSchedules = AnnotationSchedules
	}
	return c
}

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// APIKey is the key of an Opsgenie API integration with Read, Create
	// and Update access (required); sent as "Authorization: GenieKey …".
	APIKey string
	// APIURL is the API base URL: DefaultAPIURL, EUAPIURL for the EU
	// instance, or a fake's. A path is kept as a prefix.
	APIURL string
	// WebURL, when set (e.g. https://acme.app.opsgenie.com), makes alert
	// links for Incident.HTMLURL.
	WebURL string
	// User is the "user" of alerts, notes and closes: the display name of
	// the request owner (default DefaultUser).
	User string
	// Source is the alerts' source (default DefaultSource).
	Source string
	// Priority is the alerts' priority, P1 to P5 (default: none, Opsgenie
	// takes P3). An incident spec's priority, when it is one of P1-P5,
	// wins.
	Priority string
	// Tags are added to every alert.
	Tags []string
	// Actions are custom actions put on every alert, in addition to those
	// EnsureActions registers (the names the webhook integration maps).
	Actions []string
	// Conventions name the request annotations (defaults: Teleport's).
	Conventions Conventions
	// AliasPrefix starts the alias of every alert, followed by the request
	// ID (default AliasPrefix, Teleport's: alerts of a mixed fleet dedup).
	AliasPrefix string
	// RateLimit is the client-side limit in requests per minute (default
	// DefaultRateLimit).
	RateLimit int
	// RequestTimeout bounds each attempt of a call (default
	// DefaultRequestTimeout).
	RequestTimeout time.Duration
	// MaxRetries is how many times a call is retried after a 429, 408 or
	// 5xx answer or a transport failure (default DefaultMaxRetries;
	// negative: none).
	MaxRetries int
	// RetryWait is the first backoff wait; it doubles per retry, with
	// jitter (default DefaultRetryWait).
	RetryWait time.Duration
	// MaxRetryWait caps one wait; a 429 asking for more is not retried
	// (default DefaultMaxRetryWait; never above 60 s).
	MaxRetryWait time.Duration
	// CacheTTL is how long user, schedule and team lookups are cached
	// (default DefaultCacheTTL).
	CacheTTL time.Duration
	// StatusWait bounds how long an asynchronous request (create, close,
	// note) is awaited through its request status (default
	// DefaultStatusWait).
	StatusWait time.Duration
	// HTTPClient, when set, provides the base transport (its Transport;
	// tests and proxies).
	HTTPClient *http.Client
}

func (c Config) withDefaults() (Config, error) {
	var errs []error
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("api_key is empty"))
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("api_url %q is not an http(s) URL", c.APIURL))
	}
	c.WebURL = strings.TrimRight(c.WebURL, "/")
	if c.Priority != "" && !validPriority(c.Priority) {
		errs = append(errs, fmt.Errorf("priority %q is not one of P1, P2, P3, P4, P5", c.Priority))
	}
	c.User = firstNonEmpty(c.User, DefaultUser)
	c.Source = firstNonEmpty(c.Source, DefaultSource)
	c.Conventions = c.Conventions.withDefaults()
	c.AliasPrefix = firstNonEmpty(c.AliasPrefix, AliasPrefix)
	c.RateLimit = positive(c.RateLimit, DefaultRateLimit)
	c.RequestTimeout = positive(c.RequestTimeout, DefaultRequestTimeout)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	c.RetryWait = positive(c.RetryWait, DefaultRetryWait)
	c.MaxRetryWait = min(positive(c.MaxRetryWait, DefaultMaxRetryWait), httpretry.MaxRetryAfter)
	c.MaxRetryWait = max(c.MaxRetryWait, c.RetryWait)
	c.CacheTTL = positive(c.CacheTTL, DefaultCacheTTL)
	c.StatusWait = positive(c.StatusWait, DefaultStatusWait)
	return c, errors.Join(errs...)
}

func validPriority(p string) bool {
	return slices.Contains([]string{"P1", "P2", "P3", "P4", "P5"}, p)
}

func positive[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
