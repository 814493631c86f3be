package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/boltstore"
	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/logsink"
	"github.com/pagergate/pagergate/adapters/memrelease"
	"github.com/pagergate/pagergate/adapters/metrics"
	"github.com/pagergate/pagergate/adapters/opsgenie"
	"github.com/pagergate/pagergate/adapters/pagerduty"
	"github.com/pagergate/pagergate/adapters/teleport"
	"github.com/pagergate/pagergate/adapters/webhook"
	"github.com/pagergate/pagergate/app"
	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// pagerKind is what a `pager "<kind>"` block brings: the fx modules that
// provide ports.OnCall, ports.Pager and the ports.Readiness named "pager"
// from the kind's settings, and what `pagergate check` probes (with the
// services Teleport's routing rules name).
type pagerKind struct {
	module fx.Option
	check  func(ctx context.Context, p config.PagerSettings, ruleServices []string, report func(name string, err error, detail string))
}

// pagerKinds is the kind table: one line per pager kind.
var pagerKinds = map[string]pagerKind{
	config.PagerPagerDuty:    {pagerduty.Module, pagerduty.Check},
	config.PagerFake:         {fx.Options(fakepd.Module, pagerduty.Module), fakepd.Check},
	config.PagerOpsgenie:     {opsgenie.Module, opsgenie.Check},
	config.PagerOpsgenieFake: {fx.Options(fakeopsgenie.Module, opsgenie.Module), fakeopsgenie.Check},
}

// fxLogger logs fx's own events at debug, one short line each: the hooks
// it runs with how long they took, and the start and stop. What
// provides what is left out, and so are stack traces: an error is
// returned by start itself, with its root cause.
type fxLogger struct{ log *zap.Logger }

func (l fxLogger) LogEvent(event fxevent.Event) {
	switch e := event.(type) {
	case *fxevent.OnStartExecuted:
		l.hook("start hook", e.FunctionName, e.Runtime, e.Err)
	case *fxevent.OnStopExecuted:
		l.hook("stop hook", e.FunctionName, e.Runtime, e.Err)
	case *fxevent.Provided:
		l.failed("provide", e.ConstructorName, e.Err)
	case *fxevent.Decorated:
		l.failed("decorate", e.DecoratorName, e.Err)
	case *fxevent.Invoked:
		l.failed("invoke", e.FunctionName, e.Err)
	case *fxevent.Started:
		l.failed("start", "", e.Err)
	case *fxevent.Stopped:
		l.failed("stop", "", e.Err)
	case *fxevent.RollingBack:
		l.failed("start failed, rolling back", "", e.StartErr)
	}
}

func (l fxLogger) hook(what, function string, took time.Duration, err error) {
	if err != nil {
		l.log.Debug(what+" failed", zap.String("function", shortName(function)), zap.Error(err))
		return
	}
	l.log.Debug(what, zap.String("function", shortName(function)), zap.Duration("took", took))
}

func (l fxLogger) failed(what, function string, err error) {
	if err == nil {
		return
	}
	fields := []zap.Field{zap.Error(err)}
	if function != "" {
		fields = append(fields, zap.String("function", shortName(function)))
	}
	l.log.Debug(what+" failed", fields...)
}

// shortName trims a function's import path: "metrics.NewRegistry()".
func shortName(function string) string {
	if i := strings.LastIndex(function, "/"); i >= 0 {
		return function[i+1:]
	}
	return function
}

// drainTimeout bounds the graceful stop (SPEC §8).
const drainTimeout = 20 * time.Second

// modules composes the daemon for a configuration: one module per adapter,
// the pager's chosen by its kind, and the use cases.
func modules(cfg *config.Config, log *zap.Logger) fx.Option {
	opts := []fx.Option{
		fx.Supply(cfg, log, cfg.Pager.Vendor),
		fx.WithLogger(func() fxevent.Logger { return fxLogger{log.Named("fx")} }),
		teleport.Module,
		pagerKinds[cfg.Pager.Kind].module,
		boltstore.Module,
		metrics.Module,
		memrelease.Module,
		fx.Provide(
			newService,
			func(p *app.Service) ports.Actions { return p },
			fx.Annotate(func(p *app.Service, pager ports.Readiness) metrics.Checks {
				return metrics.Checks{"teleport watcher": p, "pager": pager}
			}, fx.ParamTags(``, `name:"pager"`)),
		),
		fx.Invoke(func(r *metrics.Registry) { r.SetVersion(buildVersion()) }),
		fx.Invoke(runService),
	}
	if cfg.Webhook != nil {
		opts = append(opts, webhook.Module)
	}
	return fx.Options(opts...)
}

// appConfig maps the configuration to the use cases' settings; mem hears
// when the daemon is ready, busy and idle.
func appConfig(cfg *config.Config, replicaID string, mem *memrelease.Releaser) app.Config {
	aa, p := cfg.AutoApprove, cfg.Pager
	c := app.Config{
		Policy: domain.Policy{
			NotifyAnnotation: p.NotifyServiceAnnotation, ServicesAnnotation: p.ServicesAnnotation,
			DefaultNotifyService: p.DefaultNotifyService, PagerName: p.Name, PagerID: p.PluginName,
			AutoApprove: aa.Enabled, MaxEscalationLevel: aa.MaxEscalationLevel,
			RequireActiveIncident: aa.RequireActiveIncident,
			BindToShift:           aa.BindToShift,
			AllowedRoles:          aa.AllowedRoles, DeniedRoles: aa.DeniedRoles, UserMap: aa.UserMap,
		},
		ApprovalMode: domain.ApprovalMode(cfg.Teleport.ApprovalMode),
		Incident:     domain.IncidentOptions{Urgency: p.Urgency, Priority: p.Priority},
		Workers:      cfg.Workers,
		ReplicaID:    replicaID,
		OnReady:      mem.Ready,
		OnBusy:       mem.Busy,
		OnIdle:       mem.Idle,
	}
	for _, t := range p.NotifyTargetAnnotations {
		c.Policy.NotifyTargetAnnotations = append(c.Policy.NotifyTargetAnnotations, domain.TargetAnnotation{Key: t.Annotation, Prefix: t.Prefix})
	}
	if w := cfg.Webhook; w != nil {
		c.Policy.Approvers, c.Policy.OnManualResolve, c.ReplayWindow = w.Approvers, w.OnManualResolve, w.ReplayWindow
		c.ActionHooks = webhook.ActionHooks(*w)
	}
	return c
}

// replicaID returns this replica's stable name, kept in the local store so
// a restart recognises its own intents (SPEC §7).
func replicaID(ctx context.Context, rec ports.Records) (string, error) {
	if id, ok, err := rec.GetMeta(ctx, "replica_id"); err != nil || ok {
		return id, err
	}
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := host + "-" + hex.EncodeToString(b)
	return id, rec.PutMeta(ctx, "replica_id", id)
}

// newService builds the use cases; what Ping reports (edition, proxy
// address) reaches them with the watcher's first sync.
func newService(cfg *config.Config, tp ports.AccessRequests, locks ports.Locks, users ports.Users, oc ports.OnCall, pg ports.Pager,
	rec ports.Records, dedup ports.DedupStore, m ports.Metrics, mem *memrelease.Releaser, log *zap.Logger) (*app.Service, error) {
	id, err := replicaID(context.Background(), rec)
	if err != nil {
		return nil, fmt.Errorf("replica id: %w", err)
	}
	p := app.New(appConfig(cfg, id, mem), app.Deps{Teleport: tp, Locks: locks, Users: users, OnCall: oc, Pager: pg, Records: rec, Dedup: dedup, Metrics: m}, log)
	log.Named("app").Info("replica", zap.String("replica_id", id), zap.String("approval_mode", string(cfg.Teleport.ApprovalMode)))
	return p, nil
}

// runService starts the workers and the watcher loop; a watcher failure
// that retrying cannot fix stops the process with exit code 1.
func runService(lc fx.Lifecycle, sd fx.Shutdowner, p *app.Service, w ports.Watcher, log *zap.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			p.Start()
			go func() {
				defer close(done)
				if err := p.Run(ctx, w); err != nil {
					log.Error("watcher stopped", zap.Error(err))
					_ = sd.Shutdown(fx.ExitCode(exitRuntime))
				}
			}()
			return nil
		},
		OnStop: func(stopCtx context.Context) error {
			cancel()
			<-done
			dctx, dcancel := context.WithTimeout(stopCtx, drainTimeout)
			defer dcancel()
			return p.Stop(dctx)
		},
	})
}

// reloadable is what SIGHUP acts on besides the log.
type reloadable struct {
	tp *teleport.Client
	wh *webhook.Server // nil without a webhook block
}

// runDaemon runs the graph until SIGINT or SIGTERM (exit 0) or a fatal
// error; SIGHUP reloads (SPEC §8).
func runDaemon(path string, cfg *config.Config, lg *logsink.Logger) error {
	// Signals are ours from here: a SIGTERM while starting or while
	// Teleport is still being dialed is a clean stop.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var r reloadable
	populate := []any{&r.tp}
	if cfg.Webhook != nil {
		populate = append(populate, &r.wh)
	}
	fxApp := fx.New(modules(cfg, lg.Log), fx.Populate(populate...), fx.StartTimeout(time.Minute), fx.StopTimeout(drainTimeout+5*time.Second))
	if err := fxApp.Err(); err != nil {
		return fmt.Errorf("start: %w", dig.RootCause(err))
	}
	startCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fxApp.Start(startCtx); err != nil {
		return fmt.Errorf("start: %w", dig.RootCause(err))
	}
	log := lg.Log.Named("daemon")
	exit := waitForStop(sigs, fxApp.Wait(), func() { reload(path, cfg, lg, r, log) }, log)
	stopCtx, cancelStop := context.WithTimeout(context.Background(), drainTimeout+5*time.Second)
	defer cancelStop()
	if err := fxApp.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if exit != 0 {
		return errors.New("stopped after a fatal error (see the log)")
	}
	log.Info("stopped cleanly")
	return nil
}

// waitForStop reloads on each SIGHUP until a stop signal (exit code 0) or
// the app's own shutdown (its exit code).
func waitForStop(sigs <-chan os.Signal, done <-chan fx.ShutdownSignal, reload func(), log *zap.Logger) int {
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload()
				continue
			}
			log.Info("stopping", zap.String("signal", sig.String()))
			return 0
		case sig := <-done:
			log.Info("stopping", zap.Int("exit_code", sig.ExitCode))
			return sig.ExitCode
		}
	}
}

// reload applies SIGHUP (SPEC §8): log level and file, identity, webhook
// secrets. Other changes need a restart and are logged as such.
func reload(path string, cur *config.Config, lg *logsink.Logger, r reloadable, log *zap.Logger) {
	log.Info("reloading configuration", zap.String("path", path))
	next, err := config.Load(path)
	if err != nil {
		log.Error("configuration not reloaded; keeping the running one", zap.Error(err))
		// The file is reopened all the same: logrotate sends SIGHUP too.
		if err := lg.Reopen(); err != nil {
			log.Error("log file not reopened", zap.Error(err))
		}
		return
	}
	if err := lg.Reload(next.Log); err != nil {
		log.Error("log not reloaded", zap.Error(err))
	}
	if r.tp != nil && next.Teleport.Identity != "" {
		if err := r.tp.Reload(); err != nil {
			log.Error("identity not reloaded", zap.Error(err))
		}
	}
	if r.wh != nil && next.Webhook != nil {
		r.wh.Reload(webhook.CredentialsFrom(*next.Webhook))
	}
	if keys := cur.RestartNeeded(next); len(keys) > 0 {
		log.Warn("these changes take effect only after a restart", zap.Strings("changed", keys))
	}
	log.Info("configuration reloaded", zap.String("severity", lg.Level()))
}
