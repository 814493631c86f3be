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

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/boltstore"
	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/metrics"
	"github.com/pagergate/pagergate/adapters/pagerduty"
	"github.com/pagergate/pagergate/adapters/teleport"
	"github.com/pagergate/pagergate/adapters/webhook"
	"github.com/pagergate/pagergate/app"
	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// drainTimeout bounds the graceful stop (SPEC §8).
const drainTimeout = 20 * time.Second

func cmdStart(args []string) error {
	fs := flags("start")
	path := fs.String("c", defaultConfigPath, "configuration file")
	fs.StringVar(path, "config", defaultConfigPath, "configuration file")
	debug := fs.Bool("d", false, "debug logging")
	fs.BoolVar(debug, "debug", false, "debug logging")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("start takes no arguments, got %q", fs.Args())}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	lg, err := newLogging(cfg.Log, *debug)
	if err != nil {
		return err
	}
	defer lg.log.Sync()
	return runDaemon(*path, cfg, lg, *debug)
}

// daemon holds what the signal loop acts on.
type daemon struct {
	tp *teleport.Client
	wh *webhook.Server // nil without a webhook block
}

// modules composes the daemon for a configuration: one module per adapter,
// chosen by the configuration, and the use cases.
func modules(cfg *config.Config, log *zap.Logger) fx.Option {
	opts := []fx.Option{
		fx.Supply(cfg, log),
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.ZapLogger{Logger: log.Named("fx")}
			l.UseLogLevel(zap.DebugLevel)
			return l
		}),
		teleport.Module,
		pagerduty.Module,
		boltstore.Module,
		metrics.Module,
		fx.Provide(
			newProcessor,
			func(p *app.Service) ports.Actions { return p },
			func(p *app.Service, pd *pagerduty.Client) metrics.Checks {
				return metrics.Checks{"teleport watcher": p, "pager": pd}
			},
			func(c metrics.Checks) ports.Readiness { return c },
		),
		fx.Invoke(runProcessor),
	}
	if cfg.Pager.Kind == config.PagerFake {
		opts = append(opts, fakepd.Module, fx.Decorate(fakepd.PointPager))
	}
	if cfg.Webhook != nil {
		opts = append(opts, webhook.Module)
	}
	return fx.Options(opts...)
}

func runDaemon(path string, cfg *config.Config, lg *logging, debug bool) error {
	// Signals are ours from here: a SIGTERM while starting or while
	// Teleport is still being dialed is a clean stop.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var d daemon
	populate := []any{&d.tp}
	if cfg.Webhook != nil {
		populate = append(populate, &d.wh)
	}
	fxApp := fx.New(modules(cfg, lg.log), fx.Populate(populate...), fx.StartTimeout(time.Minute), fx.StopTimeout(drainTimeout+5*time.Second))
	if err := fxApp.Err(); err != nil {
		return fmt.Errorf("start: %w", unwrapFx(err))
	}
	startCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fxApp.Start(startCtx); err != nil {
		return fmt.Errorf("start: %w", unwrapFx(err))
	}
	log := lg.log.Named("daemon")
	exit := 0
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload(path, cfg, lg, debug, d, log)
				continue
			}
			log.Info("stopping", zap.String("signal", sig.String()))
			break loop
		case sig := <-fxApp.Wait():
			exit = sig.ExitCode
			log.Info("stopping", zap.Int("exit_code", exit))
			break loop
		}
	}
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

// unwrapFx drops fx's dependency-graph prefix ("could not build arguments
// for function … received non-nil error from function … (file:line): ")
// so users see the adapter's own message.
func unwrapFx(err error) error {
	msg := err.Error()
	const marker = "received non-nil error from function "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return err
	}
	rest := msg[i+len(marker):]
	if j := strings.Index(rest, "): "); j >= 0 {
		return errors.New(rest[j+3:])
	}
	return err
}

// reload applies SIGHUP (SPEC §8): log level and file, identity, webhook
// secrets. Other changes need a restart and are logged as such.
func reload(path string, cur *config.Config, lg *logging, debug bool, d daemon, log *zap.Logger) {
	log.Info("reloading configuration", zap.String("path", path))
	if err := lg.sink.reopen(); err != nil {
		log.Error("log file not reopened", zap.Error(err))
	}
	next, err := config.Load(path)
	if err != nil {
		log.Error("configuration not reloaded; keeping the running one", zap.Error(err))
		return
	}
	if err := lg.level.UnmarshalText([]byte(severity(next.Log.Severity, debug))); err != nil {
		log.Error("log severity not changed", zap.Error(err))
	}
	if d.tp != nil && next.Teleport.Identity != "" {
		if err := d.tp.Reload(); err != nil {
			log.Error("identity not reloaded", zap.Error(err))
		}
	}
	if d.wh != nil && next.Webhook != nil {
		c := webhook.ConfigFrom(*next.Webhook)
		d.wh.Reload(c.SigningSecrets, c.BasicUser, c.BasicPassword, c.SharedSecret)
	}
	if keys := cur.RestartNeeded(next); len(keys) > 0 {
		log.Warn("these changes take effect only after a restart", zap.Strings("changed", keys))
	}
	log.Info("configuration reloaded", zap.String("severity", lg.level.String()))
}

// appConfig maps the configuration to the use cases' settings.
func appConfig(cfg *config.Config, replicaID string) app.Config {
	aa := cfg.Pager.AutoApprove
	c := app.Config{
		Policy: domain.Policy{
			NotifyAnnotation:      cfg.Pager.NotifyServiceAnnotation,
			ServicesAnnotation:    cfg.Pager.ServicesAnnotation,
			DefaultNotifyService:  cfg.Pager.DefaultNotifyService,
			AutoApprove:           aa.Enabled,
			MaxEscalationLevel:    aa.MaxEscalationLevel,
			RequireActiveIncident: aa.RequireActiveIncident,
			BindToShift:           aa.BindToShift,
			AllowedRoles:          aa.AllowedRoles,
			DeniedRoles:           aa.DeniedRoles,
			UserMap:               aa.UserMap,
		},
		ApprovalMode: domain.ApprovalMode(cfg.Teleport.ApprovalMode),
		Incident:     domain.IncidentOptions{Urgency: cfg.Pager.Urgency, Priority: cfg.Pager.Priority},
		Workers:      cfg.Workers,
		ReplicaID:    replicaID,
	}
	if w := cfg.Webhook; w != nil {
		c.Policy.Approvers, c.Policy.OnManualResolve, c.ReplayWindow = w.Approvers, w.OnManualResolve, w.ReplayWindow
		if w.ProvisionActions && w.PublicAddr != "" {
			headers := map[string]string{}
			if w.BasicAuth != nil {
				headers["Authorization"] = basicAuth(w.BasicAuth.User, w.BasicAuth.Password.Value())
			}
			if w.SharedSecretHeader != "" {
				headers[w.SharedSecretHeader] = w.SharedSecret.Value()
			}
			base := trimSlash(w.PublicAddr)
			c.ActionHooks = []domain.ActionHook{
				{Name: "Approve access", URL: base + webhook.PathApprove, Headers: headers},
				{Name: "Deny access", URL: base + webhook.PathDeny, Headers: headers},
			}
		}
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

// newProcessor builds the use cases; what Ping reports (edition, proxy
// address) reaches them with the watcher's first sync.
func newProcessor(cfg *config.Config, tp ports.AccessRequests, locks ports.Locks, users ports.Users, oc ports.OnCall, pg ports.Pager,
	rec ports.Records, dedup ports.DedupStore, m ports.Metrics, log *zap.Logger) (*app.Service, error) {
	id, err := replicaID(context.Background(), rec)
	if err != nil {
		return nil, fmt.Errorf("replica id: %w", err)
	}
	p := app.New(appConfig(cfg, id), app.Deps{Teleport: tp, Locks: locks, Users: users, OnCall: oc, Pager: pg, Records: rec, Dedup: dedup, Metrics: m}, log)
	log.Named("app").Info("replica", zap.String("replica_id", id), zap.String("approval_mode", string(cfg.Teleport.ApprovalMode)))
	return p, nil
}

// runProcessor starts the workers and the watcher loop; a watcher failure
// that retrying cannot fix stops the process with exit code 1.
func runProcessor(lc fx.Lifecycle, sd fx.Shutdowner, p *app.Service, w ports.Watcher, log *zap.Logger) {
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
