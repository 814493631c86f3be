package app

import (
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// discard is the ports.Metrics of a service given none.
type discard struct{}

func (discard) Event(domain.EventKind)                  {}
func (discard) Incident(ports.IncidentOutcome)          {}
func (discard) Approval(ports.ApprovalOutcome)          {}
func (discard) ReviewNoted()                            {}
func (discard) NoteRefused()                            {}
func (discard) Action(domain.Verb, ports.ActionOutcome) {}
func (discard) EffectRetry()                            {}
func (discard) RecordConflict(domain.Effect)            {}
func (discard) QueueDepth(int)                          {}
func (discard) WatcherConnected(bool)                   {}
func (discard) PagerCall(string, string, time.Duration) {}
func (discard) PagerRetry(string, string)               {}
func (discard) Shift(ports.ShiftOutcome)                {}
func (discard) WebhookRequest(string, int)              {}
func (discard) RuleError(ports.RuleStage)               {}
func (discard) MemoryRelease(ports.ReleaseTrigger)      {}
