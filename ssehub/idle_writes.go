package ssehub

import (
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Caddy's write idle timeout (the server's write_idle_timeout, or a
// timeouts handler's) wraps the response writer with an
// IdleTimeoutWriter that sets a write deadline before every Write and
// Flush and, on HTTP/2, clears it after: on HTTP/2 each change is a
// message to the connection's goroutine, four per event. With 5,000
// HTTP/2 streams at 5 events/s, taking that over took the cost per
// delivery from 39.9-41.8 µs to 27.9-31.6 µs (same sittings).
//
// A stream already bounds each write itself (the write watchdog costs two
// atomic stores per write), so while it runs it takes the idle timeout's
// job over: the wrapper's deadline changes go nowhere, and the watchdog
// bounds a write by the smaller of write_timeout and the idle timeout, so
// a client that stops reading is dropped no later than Caddy would have.
// A minimum write rate (write_min_rate) is a different rule, one the
// watchdog does not apply: then the stream leaves the wrapper alone.

// takeOverIdleWrites makes the request's idle write timeout, if any, the
// stream's to enforce. It returns the write timeout to watch writes with
// and a func that gives the wrapper its deadlines back, to be called when
// the stream is done writing.
func takeOverIdleWrites(r *http.Request, writeTimeout time.Duration) (timeout time.Duration, giveBack func()) {
	_, idle := caddyhttp.IdleTimeoutsFromContext(r.Context())
	if idle == nil || idle.Deadline.MinRate > 0 || idle.Ctrl == nil {
		return writeTimeout, func() {}
	}
	timeout = writeTimeout
	if t := idle.Deadline.Timeout; t > 0 && t < timeout {
		timeout = t
	}
	own := idle.Ctrl
	idle.Ctrl = http.NewResponseController(deadlinesKeptByStream{idle.ResponseWriterWrapper})
	return timeout, func() { idle.Ctrl = own }
}

// deadlinesKeptByStream stands in for the response writer in the idle
// timeout wrapper's controller while a stream enforces the deadlines: it
// drops write deadlines and hands anything else the controller does to
// the writer beneath.
type deadlinesKeptByStream struct{ http.ResponseWriter }

func (deadlinesKeptByStream) SetWriteDeadline(time.Time) error { return nil }

func (d deadlinesKeptByStream) Unwrap() http.ResponseWriter { return d.ResponseWriter }
