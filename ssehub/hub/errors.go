package hub

import (
	"errors"
	"fmt"
)

// Error kinds. Every error the hub returns matches one of them with
// errors.Is, so the HTTP layer can choose a status code, while the error's
// text stays a plain message fit to show a client.
var (
	// ErrInvalid: the request is malformed (bad name, bad event field).
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: the hub or channel does not exist and may not be created.
	ErrNotFound = errors.New("not found")
	// ErrLimit: a configured bound on channels was reached.
	ErrLimit = errors.New("limit reached")
	// ErrOverCapacity: a hub or channel subscriber limit is full; the
	// client should try again later.
	ErrOverCapacity = errors.New("over capacity")
	// ErrClientLimit: this client holds as many streams as it may.
	ErrClientLimit = errors.New("client limit reached")
	// ErrTooLarge: an event, batch or request is over its size limit.
	ErrTooLarge = errors.New("too large")
	// ErrClosed: the hub was shut down.
	ErrClosed = errors.New("closed")
)

// kindError is a message that matches an error kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// Errorf formats a message that errors.Is matches to kind.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
