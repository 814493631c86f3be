package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pagergate/pagergate/adapters/fakepd"
)

func cmdFakePagerDuty(args []string, stdout, _ io.Writer) error {
	fs := flags("fake-pagerduty")
	listen := fs.String("listen", "127.0.0.1:8090", "listen address")
	seed := fs.String("seed", "", "JSON seed file (users, services, on_calls)")
	apiKey := fs.String("api-key", fakepd.DefaultAPIKey, "API token the fake accepts")
	webhook := fs.String("webhook-url", "", "base URL of pagergate's webhook, e.g. https://127.0.0.1:8443")
	secret := fs.String("webhook-secret", "", "v3 signing secret (default: PAGERDUTY_WEBHOOK_SECRET)")
	rate := fs.Int("rate-limit", 0, "requests per minute before 429 (0 = none)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = os.Getenv("PAGERDUTY_WEBHOOK_SECRET")
	}
	s := fakepd.New(fakepd.Options{APIKey: *apiKey, RateLimit: *rate, WebhookURL: *webhook, WebhookSecret: *secret})
	if *seed != "" {
		f, err := os.Open(*seed)
		if err != nil {
			return err
		}
		err = s.LoadSeed(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("seed %s: %w", *seed, err)
		}
	}
	url, err := s.Start(*listen)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "fake PagerDuty at %s (API token %q); web page: %s/\n", url, *apiKey, url)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	return nil
}
