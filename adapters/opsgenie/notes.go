package opsgenie

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/opsgenie/opsgenie-go-sdk-v2/alert"

	"github.com/pagergate/pagergate/ports"
)

// noteLimit is the page size of note lists (Opsgenie's maximum).
const noteLimit = 100

// addNote posts a note on an alert exactly once. Opsgenie has no dedup key
// for notes: when the answer to the post is lost (a transport failure, a
// timeout, 408 or 5xx), the note is looked for on the alert before it is
// posted again (SPEC §8). A note Opsgenie accepted is done even when it is
// still queued; a note on a missing alert fails with ports.ErrNotFound
// once Opsgenie has processed it, and a note it will never take with
// ports.ErrRefused.
func (c *Client) addNote(ctx context.Context, alertID, text string) error {
	if !validAlertID(alertID) {
		return fmt.Errorf("alert ID %q: %w", alertID, ports.ErrNotFound)
	}
	req := &alert.AddNoteRequest{IdentifierType: alert.ALERTID, IdentifierValue: alertID, User: c.cfg.User, Source: c.cfg.Source, Note: text}
	var requestID string // of the post Opsgenie answered; "" when it was found stored
	err := c.transport.Once(ctx, c.cfg.MaxRetries, func(ctx context.Context) error {
		res, err := c.alerts.AddNote(ctx, req)
		if err != nil {
			return fmt.Errorf("add note to alert %s: %w", alertID, refusal(c.fail(ctx, err)))
		}
		requestID = res.RequestId
		return nil
	}, outcomeUnknown, func(ctx context.Context) (bool, error) {
		notes, err := c.listNotes(ctx, alertID)
		return slices.Contains(notes, text), err
	})
	if err != nil || requestID == "" {
		return err
	}
	if err := c.accepted(ctx, "note", alertID, requestID); err != nil {
		return fmt.Errorf("add note to alert %s: %w", alertID, refusal(err))
	}
	return nil
}

// refusal marks a note Opsgenie will never take as ports.ErrRefused: one
// answered 422 (over the 25,000 characters of a note), or processed and
// failed for another reason than a missing alert. Every other status
// keeps its meaning (another 400 is retried by the pass).
func refusal(err error) error {
	var rf *requestFailed
	if errors.As(err, &rf) {
		if errors.Is(err, ports.ErrNotFound) {
			return err
		}
		return fmt.Errorf("%w: %w", ports.ErrRefused, err)
	}
	ae, ok := asAPIError(err)
	if !ok || ae.status != http.StatusUnprocessableEntity || ae.Unwrap() != nil {
		return err
	}
	return fmt.Errorf("%w: %w", ports.ErrRefused, err)
}

// outcomeUnknown reports whether a failed write may have taken effect.
func outcomeUnknown(err error) bool {
	if ae, ok := asAPIError(err); ok {
		return ae.status >= 500 || ae.status == 408
	}
	return errors.Is(err, ports.ErrUnavailable)
}

// listNotes returns the note texts of an alert, oldest first.
func (c *Client) listNotes(ctx context.Context, alertID string) ([]string, error) {
	if !validAlertID(alertID) {
		return nil, fmt.Errorf("alert ID %q: %w", alertID, ports.ErrNotFound)
	}
	var out []string
	offset := ""
	for {
		res, err := c.alerts.ListAlertNotes(ctx, &alert.ListAlertNotesRequest{
			IdentifierType: alert.ALERTID, IdentifierValue: alertID, Offset: offset,
			Direction: alert.NEXT, Order: alert.Asc, Limit: noteLimit,
		})
		if err != nil {
			return nil, fmt.Errorf("list notes of alert %s: %w", alertID, c.fail(ctx, err))
		}
		for _, n := range res.AlertLog {
			out = append(out, n.Note)
		}
		if len(res.AlertLog) < noteLimit || res.Paging["next"] == "" {
			return out, nil
		}
		offset = res.AlertLog[len(res.AlertLog)-1].Offset
	}
}
