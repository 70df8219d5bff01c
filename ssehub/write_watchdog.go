package ssehub

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// A stream's writes carry no deadline of their own: setting and clearing
// one around every write is a message to the connection's goroutine on
// HTTP/2 (measured: 5% of the CPU). Instead one watchdog goroutine looks,
// every watchdogEvery, at the writes in flight, and fails any that has
// taken longer than its stream's write_timeout by setting a past write
// deadline on the connection. A write that completes costs two atomic
// stores.
const watchdogEvery = 250 * time.Millisecond

// errWriteTimeout ends a stream whose write the watchdog failed.
var errWriteTimeout = errors.New("write took longer than write_timeout")

// writeWatch is one stream's entry with the watchdog.
type writeWatch struct {
	timeout int64        // ns
	since   atomic.Int64 // watchdog time when the write in flight began; 0 between writes
	// failed is set once the stream's writes were made to fail (by the
	// watchdog, or by the hub cutting a slow consumer): a write that
	// slipped through still ends the stream.
	failed atomic.Bool

	mu   sync.Mutex // guards fail against the handler returning
	fail func()     // sets a past write deadline; nil once the handler returned
}

// watchdog holds the streams' write watches; its goroutine runs while
// there are any.
var watchdog struct {
	mu      sync.Mutex
	watches map[*writeWatch]struct{}
	running bool         // the goroutine runs; it stops, under mu, once watches is empty
	now     atomic.Int64 // unix ns, advanced each round: a coarse clock for begin
}

// watchWrites registers a stream's writer with the watchdog. fail must
// make a write in flight on w's connection fail at once; it is called
// from the watchdog's goroutine, never after done.
func watchWrites(timeout time.Duration, fail func()) (ww *writeWatch, done func()) {
	ww = &writeWatch{timeout: int64(timeout), fail: fail}
	w := &watchdog
	w.mu.Lock()
	if w.watches == nil {
		w.watches = make(map[*writeWatch]struct{})
	}
	if !w.running {
		w.running = true
		w.now.Store(time.Now().UnixNano())
		go runWatchdog()
	}
	w.watches[ww] = struct{}{}
	w.mu.Unlock()
	return ww, func() {
		ww.mu.Lock()
		ww.fail = nil
		ww.mu.Unlock()
		w.mu.Lock()
		delete(w.watches, ww)
		w.mu.Unlock()
	}
}

// begin marks a write in flight.
func (ww *writeWatch) begin() { ww.since.Store(watchdog.now.Load()) }

// end marks the write done; it fails if the stream's writes were failed
// meanwhile.
func (ww *writeWatch) end() error {
	ww.since.Store(0)
	if ww.failed.Load() {
		return errWriteTimeout
	}
	return nil
}

// interrupt fails the stream's write in flight, and any later one.
func (ww *writeWatch) interrupt() {
	ww.failed.Store(true)
	ww.mu.Lock()
	defer ww.mu.Unlock()
	if ww.fail != nil {
		ww.fail()
	}
}

// runWatchdog checks the writes in flight every watchdogEvery until no
// stream is registered. A panic skips one round.
func runWatchdog() {
	t := time.NewTicker(watchdogEvery)
	defer t.Stop()
	for now := range t.C {
		if !watchdogRound(now) {
			return
		}
	}
}

// watchdogRound fails overdue writes; it reports false once there is
// nothing left to watch, and the goroutine ends (the next registration
// starts another).
func watchdogRound(now time.Time) (goOn bool) {
	defer func() {
		if v := recover(); v != nil {
			hub.ReportPanic(panicWatchdog, v)
			goOn = true
		}
	}()
	w := &watchdog
	t := now.UnixNano()
	w.now.Store(t)
	var overdue []*writeWatch
	w.mu.Lock()
	if len(w.watches) == 0 {
		w.running = false
		w.mu.Unlock()
		return false
	}
	for ww := range w.watches {
		if since := ww.since.Load(); since != 0 && t-since > ww.timeout {
			overdue = append(overdue, ww)
		}
	}
	w.mu.Unlock()
	for _, ww := range overdue {
		ww.interrupt()
	}
	return true
}

// panicWatchdog names the watchdog in panic reports.
const panicWatchdog = "write_watchdog"

// failWrites returns the function that makes a write in flight on w fail:
// a past write deadline on net/http's own writer, beneath Caddy's wrappers
// (whose deadline bookkeeping belongs to the handler's goroutine).
func failWrites(w http.ResponseWriter) func() {
	rc := http.NewResponseController(innermost(w))
	return func() { _ = rc.SetWriteDeadline(time.Now()) }
}

// innermost unwraps w down to net/http's writer.
func innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
