package fakepd

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// PagerDuty's webhook delivery rules (developer docs, Webhooks > Behavior),
// which the fake's deliveries follow:
//   - a 2xx within the deadline (5 s for v3 webhooks, 16 s for Custom
//     Incident Actions) delivers;
//   - no answer, a timeout, a 5xx, a 429 or a connection that cannot be
//     made (but for TLS errors) is retried, up to 5 attempts over about 20
//     minutes, with the same body and X-Webhook-Id; meanwhile the
//     destination's later webhooks wait in its queue (up to 4000);
//   - any other 4xx, or a TLS error, drops the webhook without retry; so
//     does a last failed attempt;
//   - after 3 webhooks dropped in a row the destination (the extension, or
//     the v3 subscription) is disabled for 24 hours and its queue dropped;
//     while disabled, new webhooks are dropped. It can be re-enabled by
//     hand (the page's button, POST /extensions/{id}/enable).

// Errors of Send beside the payload's.
var (
	// ErrDisabled: the destination is disabled; the webhook was dropped.
	ErrDisabled = errors.New("extension temporarily disabled after 3 dropped deliveries in a row; webhook dropped")
	// ErrQueued: an earlier webhook of the destination is being retried;
	// this one waits in the queue.
	ErrQueued = errors.New("queued behind a webhook being retried")
	// ErrQueueFull: the destination's queue is full; the webhook was dropped.
	ErrQueueFull = errors.New("delivery queue full; webhook dropped")
)

// Delivery rule numbers.
const (
	maxAttempts      = 5
	dropsToDisable   = 3
	maxQueue         = 4000
	defaultDisable   = 24 * time.Hour
	maxDeliveryLog   = 1000
	deliveryReadBody = 64 << 10
)

// DefaultRetryDelays are the waits before attempts 2 to 5: exponential,
// about 20 minutes in all, like PagerDuty's.
var DefaultRetryDelays = []time.Duration{30 * time.Second, 90 * time.Second, 4 * time.Minute, 14 * time.Minute}

// Delivery states (Delivery.State).
const (
	DeliveryPending   = "pending" // sending, retrying or queued
	DeliveryDelivered = "delivered"
	DeliveryDropped   = "dropped"
)

// Delivery is the record of one webhook and its attempts.
type Delivery struct {
	ID          string // X-Webhook-Id, the same on every attempt
	Destination string // Destination.Key
	Format      string
	IncidentID  string
	Attempts    []Attempt
	State       string
	Reason      string // why it was dropped
}

// Attempt is one try of a delivery: the status answered (0 when none) or
// the error.
type Attempt struct {
	At     time.Time
	Status int
	Err    string
}

// Destination is where webhooks go, with its delivery health: an extension
// (Key is its ID; a Custom Incident Action) or the v3 webhook subscription
// (PSUB001). An action without provisioned extension has Key "url:<URL>".
type Destination struct {
	Key, Name, URL   string
	ConsecutiveDrops int
	Disabled         bool
	DisabledUntil    time.Time
	Queued           int
	Delivered        int
	Retried          int // attempts after the first
	Dropped          int
}

// DeliveryStats sums up deliveries (the page's stats, GET /_ui/stats).
type DeliveryStats struct {
	Delivered, Retried, Dropped, Pending int
	Destinations                         []Destination
}

// delivery is one webhook on its way.
type delivery struct {
	id, format, incidentID string
	url                    string
	body                   []byte
	headers                map[string]string
	timeout                time.Duration
	dest                   destKey
	rec                    *Delivery
}

type destKey struct{ id, url, name string }

func (k destKey) key() string {
	if k.id != "" {
		return k.id
	}
	return "url:" + k.url
}

// destination is a Destination's live state; s.mu guards it.
type destination struct {
	Destination
	busy  bool
	queue []*delivery
}

func (d *destination) disabledAt(now time.Time) bool { return now.Before(d.DisabledUntil) }

// verdict is what an attempt's result means.
type verdict int

const (
	success verdict = iota
	retry
	drop
)

// dispatch sends a delivery's first attempt, or queues or drops it, and
// leaves any retries to the background.
func (s *Server) dispatch(ctx context.Context, d *delivery) (int, error) {
	s.mu.Lock()
	dest := s.destLocked(d.dest)
	d.rec = &Delivery{ID: d.id, Destination: dest.Key, Format: d.format, IncidentID: d.incidentID, State: DeliveryPending}
	s.deliveries = append(s.deliveries, d.rec)
	if n := len(s.deliveries) - maxDeliveryLog; n > 0 {
		s.deliveries = slices.Delete(s.deliveries, 0, n)
	}
	switch {
	case dest.disabledAt(s.now()):
		s.dropLocked(dest, d, "extension disabled")
		s.mu.Unlock()
		return 0, ErrDisabled
	case dest.busy && len(dest.queue) >= maxQueue:
		s.dropLocked(dest, d, "queue full")
		s.mu.Unlock()
		return 0, ErrQueueFull
	case dest.busy:
		dest.queue = append(dest.queue, d)
		s.notify()
		s.mu.Unlock()
		return 0, ErrQueued
	}
	dest.busy = true
	s.mu.Unlock()

	status, v, err := s.attempt(ctx, d)
	if v == retry {
		s.background(func() { s.retryLoop(d, 1) })
	} else {
		s.finish(d, v, err)
	}
	return status, err
}

func (s *Server) destLocked(k destKey) *destination {
	dest := s.dests[k.key()]
	if dest == nil {
		dest = &destination{Destination: Destination{Key: k.key(), Name: k.name, URL: k.url}}
		s.dests[k.key()] = dest
	}
	return dest
}

// background runs f on a goroutine Close waits for.
func (s *Server) background(f func()) {
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		f()
	}()
}

// retryLoop makes the attempts after the done ones, waiting the retry
// delays, until one is final.
func (s *Server) retryLoop(d *delivery, done int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	var err error
	for n := done + 1; n <= maxAttempts; n++ {
		if n > 1 && !s.wait(ctx, s.retryDelay(n)) {
			s.finish(d, drop, errors.New("fake closed"))
			return
		}
		s.mu.Lock()
		disabled := s.destLocked(d.dest).disabledAt(s.now())
		s.mu.Unlock()
		if disabled {
			s.finish(d, drop, ErrDisabled)
			return
		}
		var v verdict
		if _, v, err = s.attempt(ctx, d); v != retry {
			s.finish(d, v, err)
			return
		}
	}
	s.finish(d, drop, fmt.Errorf("gave up after %d attempts: %w", maxAttempts, err))
}

// retryDelay is the wait before attempt n (n >= 2).
func (s *Server) retryDelay(n int) time.Duration {
	delays := s.opts.RetryDelays
	if len(delays) == 0 {
		delays = DefaultRetryDelays
	}
	return delays[min(n-2, len(delays)-1)]
}

// attempt sends the delivery once and judges the answer.
func (s *Server) attempt(ctx context.Context, d *delivery) (int, verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	status, err := s.post(ctx, d)
	s.mu.Lock()
	a := Attempt{At: s.now(), Status: status}
	if err != nil {
		a.Err = err.Error()
	}
	d.rec.Attempts = append(d.rec.Attempts, a)
	if len(d.rec.Attempts) > 1 {
		s.destLocked(d.dest).Retried++
	}
	s.notify()
	s.mu.Unlock()
	switch {
	case err != nil && isTLSError(err):
		return 0, drop, err
	case err != nil:
		return 0, retry, err
	case status >= 200 && status <= 299:
		return status, success, nil
	case status == http.StatusTooManyRequests || status >= 500:
		return status, retry, nil
	}
	return status, drop, nil
}

func (s *Server) post(ctx context.Context, d *delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook delivery: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, deliveryReadBody))
	return resp.StatusCode, nil
}

// isTLSError reports a failure PagerDuty drops without retry: the TLS
// handshake or the server certificate.
func isTLSError(err error) bool {
	var cve *tls.CertificateVerificationError
	var alert tls.AlertError
	var rhe tls.RecordHeaderError
	return errors.As(err, &cve) || errors.As(err, &alert) || errors.As(err, &rhe)
}

// finish records a delivery's end, applies the disabling rule and starts
// the destination's next queued webhook.
func (s *Server) finish(d *delivery, v verdict, err error) {
	s.mu.Lock()
	dest := s.destLocked(d.dest)
	if v == success {
		d.rec.State = DeliveryDelivered
		dest.Delivered++
		dest.ConsecutiveDrops = 0
	} else {
		reason := "dropped"
		switch last := d.rec.Attempts; {
		case err != nil:
			reason = err.Error()
		case len(last) > 0:
			reason = fmt.Sprintf("answered HTTP %d", last[len(last)-1].Status)
		}
		s.dropLocked(dest, d, reason)
	}
	dest.busy = false
	var next *delivery
	if len(dest.queue) > 0 {
		next, dest.queue = dest.queue[0], dest.queue[1:]
		dest.busy = true
	}
	s.notify()
	s.mu.Unlock()
	if next != nil {
		s.background(func() { s.retryLoop(next, 0) })
	}
}

// dropLocked drops a webhook; the third in a row disables the destination
// and drops its queue.
func (s *Server) dropLocked(dest *destination, d *delivery, reason string) {
	d.rec.State, d.rec.Reason = DeliveryDropped, reason
	dest.Dropped++
	if dest.disabledAt(s.now()) {
		return // dropped because disabled: not a delivery failure
	}
	dest.ConsecutiveDrops++
	if dest.ConsecutiveDrops < dropsToDisable {
		return
	}
	disable := s.opts.DisableFor
	if disable <= 0 {
		disable = defaultDisable
	}
	dest.DisabledUntil = s.now().Add(disable)
	for _, q := range dest.queue {
		q.rec.State, q.rec.Reason = DeliveryDropped, "extension disabled"
		dest.Dropped++
	}
	dest.queue = nil
}

// Enable re-enables a disabled destination (an extension ID, or the v3
// subscription PSUB001), like PagerDuty's re-enable button; it reports
// whether the destination is known.
func (s *Server) Enable(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	dest := s.dests[key]
	if dest == nil {
		return s.extensionLocked(key) != nil
	}
	dest.DisabledUntil, dest.ConsecutiveDrops = time.Time{}, 0
	s.notify()
	return true
}

// disabledLocked reports whether the destination with the key is disabled.
func (s *Server) disabledLocked(key string) bool {
	dest := s.dests[key]
	return dest != nil && dest.disabledAt(s.now())
}

// Deliveries returns the record of the latest deliveries, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, len(s.deliveries))
	for _, d := range s.deliveries {
		c := *d
		c.Attempts = slices.Clone(d.Attempts)
		out = append(out, c)
	}
	return out
}

// Stats sums up deliveries per destination.
func (s *Server) Stats() DeliveryStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st DeliveryStats
	now := s.now()
	for _, d := range s.dests {
		snap := d.Destination
		snap.Disabled, snap.Queued = d.disabledAt(now), len(d.queue)
		if !snap.Disabled {
			snap.DisabledUntil = time.Time{}
		}
		st.Destinations = append(st.Destinations, snap)
		st.Delivered += d.Delivered
		st.Retried += d.Retried
		st.Dropped += d.Dropped
	}
	for _, d := range s.deliveries {
		if d.State == DeliveryPending {
			st.Pending++
		}
	}
	slices.SortFunc(st.Destinations, func(a, b Destination) int { return cmp.Compare(a.Key, b.Key) })
	return st
}
