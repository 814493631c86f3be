package app

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pagergate/pagergate/domain"
)

// Zero and negative fields take the defaults; set fields are kept.
func TestConfigDefaults(t *testing.T) {
	want := Config{
		Workers: 32, EffectTimeout: 2 * time.Minute, RetryMin: 500 * time.Millisecond, RetryMax: 2 * time.Minute,
		IntentLease: 2 * time.Minute, ReplayWindow: 72 * time.Hour, ApprovalMode: domain.ModeAuto,
		Policy: domain.Policy{NotifyAnnotation: domain.DefaultNotifyAnnotation, ServicesAnnotation: domain.DefaultServicesAnnotation,
			Approvers: domain.ApproversOnCall, OnManualResolve: domain.ManualResolveIgnore, PagerName: domain.DefaultPagerName},
	}
	ignore := cmpopts.IgnoreFields(Config{}, "ReplicaID", "Now")
	for _, in := range []Config{{}, {Workers: -1, EffectTimeout: -1, RetryMin: -1, RetryMax: -1, IntentLease: -1, ReplayWindow: -1}} {
		got := in.withDefaults()
		if d := cmp.Diff(want, got, ignore); d != "" {
			t.Errorf("defaults of %+v (-want +got):\n%s", in, d)
		}
		if got.ReplicaID == "" || got.Now == nil {
			t.Errorf("defaults of %+v: ReplicaID %q, clock set %v", in, got.ReplicaID, got.Now != nil)
		}
	}

	clock := func() time.Time { return now }
	set := Config{
		Workers: 1, EffectTimeout: time.Second, RetryMin: time.Millisecond, RetryMax: time.Second,
		IntentLease: time.Second, ReplayWindow: time.Hour, ApprovalMode: domain.ModeReview, ReplicaID: "replica-a", Now: clock,
		Policy: domain.Policy{NotifyAnnotation: "n", ServicesAnnotation: "s", Approvers: domain.ApproversAny,
			OnManualResolve: domain.ManualResolveDeny, PagerName: "Opsgenie"},
	}
	got := set.withDefaults()
	if d := cmp.Diff(set, got, ignore); d != "" || got.ReplicaID != "replica-a" || !got.Now().Equal(now) {
		t.Errorf("set fields changed (-want +got):\n%s", d)
	}
	if host := (Config{}).withDefaults().ReplicaID; !strings.Contains(host, "-") {
		t.Errorf("default ReplicaID %q, want host-time", host)
	}
}
