package app

import (
	"os"
	"time"

	"github.com/pagergate/pagergate/domain"
)

// Config tunes the use cases. Zero fields take the defaults of Defaults.
type Config struct {
	Policy       domain.Policy
	ApprovalMode domain.ApprovalMode
	Incident     domain.IncidentOptions

	// Workers bounds how many requests are handled at once.
	Workers int
	// EffectTimeout bounds one pass over a request (all its effects).
	EffectTimeout time.Duration
	// RetryMin and RetryMax bound the jittered backoff of failed effects.
	RetryMin, RetryMax time.Duration
	// IntentLease is how long another replica's recorded intent is honoured
	// before it is taken over (the holder may have crashed).
	IntentLease time.Duration
	// ReplayWindow is how long webhook deliveries are remembered; older
	// deliveries are refused.
	ReplayWindow time.Duration
	// ReplicaID names this process in intents. Stable across restarts of the
	// same replica (kept in the local store), distinct between replicas.
	ReplicaID string
	// ActionHooks, when set, are provisioned as Custom Incident Actions on
	// each notify service the first time pagergate uses it.
	ActionHooks []domain.ActionHook
	// OnReady, when set, is called once, the first time the service is
	// ready (watcher connected, start-up backlog scheduled).
	OnReady func()
	// OnBusy and OnIdle, when set, are told when the first request
	// (queued, handled or waiting for a retry) or pager action comes in
	// hand and when the last one is done, so memory can be given back
	// while idle. Background scans (orphaned incidents, shift timers) do
	// not count. They are called with the scheduler's lock held and must
	// return at once.
	OnBusy, OnIdle func()
	// Now is the clock (tests).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 32
	}
	if c.EffectTimeout <= 0 {
		c.EffectTimeout = 2 * time.Minute
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 500 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 2 * time.Minute
	}
	if c.IntentLease <= 0 {
		c.IntentLease = 2 * time.Minute
	}
	if c.ReplayWindow <= 0 {
		c.ReplayWindow = 72 * time.Hour
	}
	if c.ApprovalMode == "" {
		c.ApprovalMode = domain.ModeAuto
	}
	if c.ReplicaID == "" {
		h, _ := os.Hostname()
		c.ReplicaID = h + "-" + time.Now().Format("150405.000")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Policy.NotifyAnnotation == "" {
		c.Policy.NotifyAnnotation = domain.DefaultNotifyAnnotation
	}
	if c.Policy.ServicesAnnotation == "" {
		c.Policy.ServicesAnnotation = domain.DefaultServicesAnnotation
	}
	if c.Policy.Approvers == "" {
		c.Policy.Approvers = domain.ApproversOnCall
	}
	if c.Policy.OnManualResolve == "" {
		c.Policy.OnManualResolve = domain.ManualResolveIgnore
	}
	if c.Policy.PagerName == "" {
		c.Policy.PagerName = domain.DefaultPagerName
	}
	return c
}
