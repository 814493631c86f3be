package ports

import (
	"errors"
	"fmt"
)

// Port-level errors. Adapters wrap them (fmt.Errorf("…: %w", ports.ErrX))
// so app can match with errors.Is.
var (
	// ErrNotFound: the thing does not exist (request deleted, unknown
	// service, user or incident).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-swap lost (another writer changed it).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the remote side could not be reached or failed
	// transiently (timeouts, 5xx, 429 after retries); try again later.
	ErrUnavailable = errors.New("unavailable")
	// ErrRefused: the pager refused the write for good (an incident at
	// its maximum of notes, a note over its length limit): retrying
	// cannot help.
	ErrRefused = errors.New("refused by the pager for good")
	// ErrAlreadyReviewed: this reviewer already reviewed the request.
	ErrAlreadyReviewed = errors.New("already reviewed")
	// ErrAlreadyResolved: the request is no longer pending.
	ErrAlreadyResolved = errors.New("request already resolved")
)

// PermissionError says the remote side refused for lack of a permission.
type PermissionError struct {
	// Permission names what is missing, e.g. "access_request: update".
	Permission string
	Err        error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("permission denied (the plugin needs %s): %v", e.Permission, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }
