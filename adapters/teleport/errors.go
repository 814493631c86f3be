package teleport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gravitational/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pagergate/pagergate/ports"
)

// translate turns a Teleport error into a port error, with what as context.
// perm names the permission an access denial means; "" leaves denials as
// they are.
func translate(ctx context.Context, err error, what, perm string) error {
	if err == nil {
		return nil
	}
	switch {
	case trace.IsNotFound(err):
		return fmt.Errorf("%s: %w: %v", what, ports.ErrNotFound, err)
	case trace.IsCompareFailed(err):
		return fmt.Errorf("%s: %w: %v", what, ports.ErrConflict, err)
	case trace.IsAccessDenied(err) && perm != "":
		return fmt.Errorf("%s: %w", what, &ports.PermissionError{Permission: perm, Err: err})
	case trace.IsConnectionProblem(err), trace.IsLimitExceeded(err), isTransient(err):
		return fmt.Errorf("%s: %w: %v", what, ports.ErrUnavailable, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w: %w", what, ports.ErrUnavailable, ctx.Err())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isTransient reports failures of the transport that the api client does
// not classify as connection problems: deadlines and streams cut mid-way.
func isTransient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		switch se.GRPCStatus().Code() {
		case codes.DeadlineExceeded, codes.Aborted, codes.Unavailable:
			return true
		}
	}
	return false
}

// isAlreadyReviewed: Teleport answers a second review by the same user with
// AccessDenied "user %q has already reviewed this request".
func isAlreadyReviewed(err error) bool {
	return (trace.IsAccessDenied(err) || trace.IsAlreadyExists(err)) && strings.Contains(err.Error(), "already reviewed")
}

// isAlreadyResolved: Teleport refuses reviews of resolved requests with
// AccessDenied "the access request has been already approved" and state
// changes of denied ones with BadParameter "... (already denied)".
func isAlreadyResolved(err error) bool {
	if !trace.IsAccessDenied(err) && !trace.IsBadParameter(err) && !trace.IsCompareFailed(err) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "already approved") || strings.Contains(msg, "already denied") ||
		strings.Contains(msg, "already promoted") || strings.Contains(msg, "non-pending") ||
		strings.Contains(msg, "not pending")
}
