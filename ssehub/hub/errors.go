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
	// ErrOnDemandLimit: a new on-demand channel is refused, as the hub has
	// its maximum of them (max_on_demand_channels) and none is idle, or the
	// channels a request needs kept being closed while it created them.
	ErrOnDemandLimit = errors.New("limit reached")
	// ErrOverCapacity: a hub or channel subscriber limit is full; the
	// client should try again later.
	ErrOverCapacity = errors.New("over capacity")
	// ErrClientLimit: this client holds as many streams as it may.
	ErrClientLimit = errors.New("client limit reached")
	// ErrTooLarge: an event, batch or request is over its size limit.
	ErrTooLarge = errors.New("too large")
	// ErrClosed: the hub was shut down.
	ErrClosed = errors.New("closed")
	// ErrUnavailable: the hub's backend (Redis) could not store or read
	// events; nothing was published. The client should try again later.
	ErrUnavailable = errors.New("backend unavailable")
)

// kindError is a message that matches an error kind, and for a limit,
// names the limit.
type kindError struct {
	kind  error
	limit string
	msg   string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// Errorf formats a message that errors.Is matches to kind.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// limitErrorf is Errorf for a refusal by the named limit (its config name).
func limitErrorf(kind error, limit, format string, args ...any) error {
	return &kindError{kind: kind, limit: limit, msg: fmt.Sprintf(format, args...)}
}

// Reason names why a request was refused, from a small fixed set fit for a
// metric label: the config name of the limit that refused it, or
// "bad_request", "not_found", "closed", "backend_unavailable" or "error".
func Reason(err error) string {
	var ke *kindError
	if errors.As(err, &ke) && ke.limit != "" {
		return ke.limit
	}
	switch {
	case errors.Is(err, ErrInvalid):
		return "bad_request"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrUnavailable):
		return "backend_unavailable"
	}
	return "error"
}
