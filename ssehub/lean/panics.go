package lean

import (
	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/internal/faults"
	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// Goroutines of the engine that recover panics (hub.Panic.Where).
const (
	PanicWorker = "lean_worker"
	PanicPoller = "lean_poller"
	PanicTicker = "lean_ticker"
)

// serveRecovering serves c; a panic while serving it (a bug) is reported
// and ends c alone: the worker goes on with its other connections.
func (w *worker) serveRecovering(c *Conn) {
	defer func() {
		if v := recover(); v != nil {
			hub.ReportPanic(PanicWorker, v)
			c.closeAfterPanic()
		}
	}()
	if f := faults.LeanServe.Load(); f != nil {
		(*f)(c.nc)
	}
	w.serve(c)
}

// closeAfterPanic closes c as far as it can; a second panic on the way is
// reported too, so the worker survives it.
func (c *Conn) closeAfterPanic() {
	defer func() {
		if v := recover(); v != nil {
			hub.ReportPanic(PanicWorker, v)
		}
	}()
	c.close(lifecycle.InternalError) // a no-op if the panic came from within close

}

// recovering runs f, reporting a panic instead of ending the goroutine;
// it reports whether f returned normally.
func recovering(where string, f func()) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			hub.ReportPanic(where, v)
		}
	}()
	f()
	return true
}
