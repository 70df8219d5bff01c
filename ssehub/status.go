package ssehub

import (
	"errors"
	"net/http"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// statusOf maps the core's error kinds to HTTP status codes.
func statusOf(err error) int {
	switch {
	case errors.Is(err, hub.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, hub.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, hub.ErrOnDemandLimit):
		return http.StatusConflict
	case errors.Is(err, hub.ErrClosed), errors.Is(err, hub.ErrOverCapacity), errors.Is(err, hub.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, hub.ErrClientLimit):
		return http.StatusTooManyRequests
	case errors.Is(err, hub.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}
