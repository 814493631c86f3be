package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Routes served by the webhook.
const (
	PathApprove = "/pagerduty/actions/approve"
	PathDeny    = "/pagerduty/actions/deny"
	PathV3      = "/pagerduty/v3"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
)

// DeliveryHeader identifies a delivery across PagerDuty's retries.
const DeliveryHeader = "X-Webhook-Id"

// routes are the paths counted by name in webhook_requests; any other
// path counts as "other".
var routes = map[string]bool{PathApprove: true, PathDeny: true, PathV3: true, PathHealthz: true, PathReadyz: true}

// handler routes by method and path (ServeMux answers 404 and 405, with
// Allow) and counts every answer. The pager's own delivery routes
// (Config.Routes) replace PagerDuty's when there are any.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	if len(s.cfg.Routes) == 0 {
		for _, p := range []string{PathApprove, PathDeny, PathV3} {
			mux.HandleFunc("POST "+p, s.serveAction)
		}
	}
	for _, rt := range s.cfg.Routes {
		mux.HandleFunc("POST "+rt.Path, s.serveRoute(rt))
	}
	if s.cfg.Health != nil {
		mux.Handle("GET "+PathHealthz, s.cfg.Health)
		mux.Handle("GET "+PathReadyz, s.cfg.Health)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w}
		mux.ServeHTTP(rw, r)
		if s.metrics == nil {
			return
		}
		route := r.URL.Path
		if !routes[route] && !slices.ContainsFunc(s.cfg.Routes, func(rt ports.DeliveryRoute) bool { return rt.Path == route }) {
			route = "other"
		}
		s.metrics.WebhookRequest(route, rw.status)
	})
}

// statusWriter remembers the status for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serveAction serves PagerDuty's routes: the v3 signature over the raw
// body, then its formats.
func (s *Server) serveAction(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, func(body []byte, creds *credentials) ([]domain.Action, error) {
		signed := r.URL.Path == PathV3 && len(creds.secrets) > 0
		if signed {
			if err := VerifySignature(body, r.Header.Get(SignatureHeader), creds.secrets); err != nil {
				return nil, unauthenticated{err}
			}
		}
		return s.parse(r, body, signed)
	})
}

// serveRoute serves a pager's own delivery route: its parser, then the
// checks every action passes (a replay key, a time).
func (s *Server) serveRoute(rt ports.DeliveryRoute) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, func(body []byte, _ *credentials) ([]domain.Action, error) {
			actions, err := rt.Parse(r.Header, body)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			now := time.Now()
			for i := range actions {
				if len(actions[i].ReplayKeys) == 0 {
					return nil, fmt.Errorf("%w: nothing to remember the delivery by", ErrMalformed)
				}
				if actions[i].OccurredAt.IsZero() {
					actions[i].OccurredAt = now
				}
			}
			return actions, nil
		})
	}
}

// unauthenticated is a parse failure that is a failed authentication
// (a bad signature): answered 401.
type unauthenticated struct{ error }

// serve runs the checks every action route shares: authentication, a JSON
// content type, the body limit; then parse (a failure is 400, or 401 when
// unauthenticated) and the actions.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, parse func(body []byte, creds *credentials) ([]domain.Action, error)) {
	creds := s.creds.Load()
	if reason := s.authenticate(r, creds); reason != "" {
		s.refuse(w, r, reason)
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, "content type must be application/json")
		return
	}
	body, status, reason := s.readBody(w, r)
	if status != 0 {
		writeError(w, status, reason)
		return
	}
	actions, err := parse(body, creds)
	var unauth unauthenticated
	switch {
	case errors.As(err, &unauth):
		s.refuse(w, r, unauth.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(actions) == 0 {
		s.log.Debug("webhook delivery ignored", zap.String("path", r.URL.Path),
			zap.String("delivery_id", r.Header.Get(DeliveryHeader)))
		writeStatus(w, "ignored")
		return
	}
	s.handle(w, r, actions)
}

// authenticate checks every configured transport-level method (mutual TLS,
// basic auth, shared header) and that the route has at least one method,
// counting the v3 signature checked once the body is read. It returns why
// the request is refused, or "".
func (s *Server) authenticate(r *http.Request, c *credentials) string {
	methods := 0
	if s.cfg.ClientCAFile != "" {
		methods++
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			return "client certificate required"
		}
		if !s.allowedCNs[r.TLS.VerifiedChains[0][0].Subject.CommonName] {
			return "client certificate common name not allowed"
		}
	}
	if c.basic {
		methods++
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "basic authentication required"
		}
		u := sha256.Sum256([]byte(user))
		p := sha256.Sum256([]byte(pass))
		okUser := subtle.ConstantTimeCompare(u[:], c.basicUser[:])
		okPass := subtle.ConstantTimeCompare(p[:], c.basicPass[:])
		if okUser&okPass != 1 {
			return "bad basic authentication"
		}
	}
	if s.cfg.SharedSecretHeader != "" && c.shared {
		methods++
		got := sha256.Sum256([]byte(r.Header.Get(s.cfg.SharedSecretHeader)))
		if subtle.ConstantTimeCompare(got[:], c.sharedHash[:]) != 1 {
			return "bad or missing " + s.cfg.SharedSecretHeader + " header"
		}
	}
	if r.URL.Path == PathV3 && len(c.secrets) > 0 {
		methods++
	}
	if methods == 0 && !s.cfg.InsecureNoAuth {
		return "no authentication configured for this route"
	}
	return ""
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, reason string) {
	s.log.Warn("webhook delivery not authenticated", zap.String("path", r.URL.Path),
		zap.String("remote_addr", r.RemoteAddr), zap.String("reason", reason))
	if s.creds.Load().basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="pagergate"`)
	}
	writeError(w, http.StatusUnauthorized, reason)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// drainLimit bounds how much of an oversized body is read and thrown away so
// the client receives the 413 instead of a reset connection; beyond it the
// connection is closed.
const drainLimit = 4 << 20

// readBody reads at most BodyLimit bytes; status is 0 on success.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, string) {
	tooLarge := fmt.Sprintf("body larger than %d bytes", s.cfg.BodyLimit)
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.BodyLimit+1))
	if err != nil {
		return nil, http.StatusBadRequest, "body could not be read"
	}
	if int64(len(body)) > s.cfg.BodyLimit {
		if n, _ := io.CopyN(io.Discard, r.Body, drainLimit); n == drainLimit {
			w.Header().Set("Connection", "close")
		}
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	return body, 0, ""
}

// parse turns the body into actions with replay keys and times set. The
// replay keys are what the sender cannot change after the fact (SPEC §6):
// a signed v3 delivery is keyed on its signed event id alone (the
// X-Webhook-Id header is not signed: a captured body re-sent under a fresh
// header must still be a replay); an unsigned one on its body's id and the
// header both, so either one seen again makes a replay.
func (s *Server) parse(r *http.Request, body []byte, signed bool) ([]domain.Action, error) {
	var actions []domain.Action
	switch r.URL.Path {
	case PathV3:
		a, ok, err := ParseV3(body, s.cfg)
		if err != nil {
			return nil, err
		}
		if ok {
			actions = []domain.Action{a}
		}
	case PathApprove, PathDeny:
		verb := domain.VerbApprove
		if r.URL.Path == PathDeny {
			verb = domain.VerbDeny
		}
		var err error
		if actions, err = ParseCustomAction(body, verb); err != nil {
			return nil, err
		}
	}
	header := r.Header.Get(DeliveryHeader)
	now := time.Now()
	for i := range actions {
		a := &actions[i]
		if header != "" && !signed {
			key := header
			if len(actions) > 1 {
				key += "/" + strconv.Itoa(i) // one delivery, several messages
			}
			a.ReplayKeys = append(a.ReplayKeys, replayWebhook+key)
		}
		if len(a.ReplayKeys) == 0 {
			return nil, fmt.Errorf("%w: no %s header and no message or event id", ErrMalformed, DeliveryHeader)
		}
		if header != "" {
			a.DeliveryID = header
		}
		if a.OccurredAt.IsZero() {
			a.OccurredAt = now
		}
	}
	return actions, nil
}

// handle runs the actions in order within HandlerTimeout and answers with
// the most severe result: 2xx for every final result, whatever it is (SPEC
// §6: PagerDuty drops a delivery answered with another 4xx and disables the
// extension after 3 drops in a row), 503 for a transient failure of any,
// so PagerDuty retries the delivery (the ones already done then answer as
// replays).
func (s *Server) handle(w http.ResponseWriter, r *http.Request, actions []domain.Action) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.HandlerTimeout)
	defer cancel()
	var best reply
	for _, a := range actions {
		outcome, err := s.actions.HandleAction(ctx, a)
		ans := result(outcome, err)
		fields := []zap.Field{
			zap.String("path", r.URL.Path), zap.String("delivery_id", a.DeliveryID),
			zap.Stringer("verb", a.Verb), zap.String("pd_incident_id", a.IncidentID),
			zap.String("pd_user_id", a.ActorID), zap.Int("status", ans.code), zap.String("outcome", ans.status),
		}
		if ans.reason != "" {
			fields = append(fields, zap.String("reason", ans.reason))
		}
		if ans.code != http.StatusOK {
			fields = append(fields, zap.Error(err))
		}
		s.log.Info("webhook action handled", fields...)
		if ans.moreTelling(best) {
			best = ans
		}
	}
	switch best.code {
	case http.StatusOK:
		body := map[string]string{"status": best.status}
		if best.reason != "" {
			body["reason"] = best.reason
		}
		writeJSON(w, http.StatusOK, body)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeError(w, best.code, best.status)
	default:
		writeError(w, best.code, best.status)
	}
}

// retryAfterSeconds is the Retry-After of a 503.
const retryAfterSeconds = 10

// reply is the HTTP answer to one action: a status word for 2xx (with the
// reason of a final result that changed nothing), else an error text.
type reply struct {
	code           int
	class          class // of a 2xx
	status, reason string
}

// class orders the 2xx answers: a delivery of several actions answers
// with its most telling one.
type class int

// Classes of a 2xx answer, least telling first.
const (
	classIgnored  class = iota + 1 // nothing for pagergate in it
	classReplayed                  // seen before
	classRefused                   // a final result that changed nothing, and why
	classDone                      // it did something
)

// moreTelling reports whether r is the answer to give over best: a higher
// status code (a retry or a failure outranks success), else a more
// telling class.
func (r reply) moreTelling(best reply) bool {
	return r.code > best.code || (r.code == best.code && r.class > best.class)
}

// classes maps the outcomes of a successful action to their class.
var classes = map[domain.Outcome]class{
	domain.OutcomeDone: classDone, domain.OutcomeReplayed: classReplayed, domain.OutcomeIgnored: classIgnored,
}

// maxReason bounds the reason of an answer.
const maxReason = 300

// result maps the use case's answer to an HTTP answer that never carries
// secrets: every final result is a 2xx (SPEC §6), a transient failure a
// 503, anything else a 500.
func result(outcome domain.Outcome, err error) reply {
	status, final := domain.ActionStatus(outcome, err)
	switch {
	case final && err == nil:
		return reply{code: http.StatusOK, class: classes[outcome], status: status}
	case final:
		reason := err.Error()
		if len(reason) > maxReason {
			reason = reason[:maxReason]
		}
		return reply{code: http.StatusOK, class: classRefused, status: status, reason: reason}
	case errors.Is(err, ports.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return reply{code: http.StatusServiceUnavailable, status: "temporarily unavailable, retry later"}
	}
	return reply{code: http.StatusInternalServerError, status: "internal error"}
}

func writeStatus(w http.ResponseWriter, status string) {
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
}

func writeError(w http.ResponseWriter, code int, reason string) {
	writeJSON(w, code, map[string]string{"error": reason})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
