package ports

import (
	"errors"
)

var (
	// ErrExists: a write-once name is already taken; what is stored was left as it was.
	ErrExists = errors.New("already exists")
	// ErrConflict: a conditional write found another version than the one it was given.
	ErrConflict = errors.New("changed by another writer")
	// ErrNotFound: the thing asked for does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the backing service did not answer; the caller may retry later.
	ErrUnavailable = errors.New("unavailable")
)

// Refusal is an error whose Msg may be shown to the caller as it is (it holds nothing
// secret): why a request was refused, in a sentence. It wraps Err (ErrUnauthenticated,
// ...).
type Refusal struct {
	Err error
	Msg string
}

func (r *Refusal) Error() string { return r.Err.Error() + ": " + r.Msg }
func (r *Refusal) Unwrap() error { return r.Err }
