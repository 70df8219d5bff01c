package ssehub

import (
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// panicExitWatcher names the exit watcher in panic reports.
const panicExitWatcher = "exit_watcher"

// exitPollEvery is how often open streams check whether Caddy is exiting.
const exitPollEvery = 100 * time.Millisecond

// When Caddy exits (caddy stop, SIGTERM) it waits for every HTTP handler to
// return before it cancels module contexts, and with no grace_period it
// waits forever: a stream that watched only its context would hang the
// exit. Caddy sets caddy.Exiting() before that wait but offers no signal,
// so while streams are open one goroutine polls it and closes exitSignal.
var exitWatch struct {
	mu      sync.Mutex
	streams int           // open streams; the poller runs while > 0
	signal  chan struct{} // closed once Caddy is exiting
	stop    chan struct{} // closed to stop the poller when streams drop to 0
}

// watchExit registers an open stream and returns a channel that is closed
// when Caddy begins to exit; call the returned func when the stream ends.
func watchExit() (exiting <-chan struct{}, done func()) {
	w := &exitWatch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.signal == nil {
		w.signal = make(chan struct{})
	}
	if w.streams == 0 {
		w.stop = make(chan struct{})
		go pollExit(w.signal, w.stop)
	}
	w.streams++
	return w.signal, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.streams--; w.streams == 0 {
			close(w.stop)
		}
	}
}

// pollExit closes signal when Caddy is exiting, or returns when stop closes.
func pollExit(signal, stop chan struct{}) {
	t := time.NewTicker(exitPollEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if closeIfExiting(signal) {
				return
			}
		}
	}
}

// closeIfExiting closes signal if Caddy is exiting, and reports whether
// it did. A panic (a bug) is reported and skips one poll.
func closeIfExiting(signal chan struct{}) (closed bool) {
	defer func() {
		if v := recover(); v != nil {
			hub.ReportPanic(panicExitWatcher, v)
		}
	}()
	if !caddy.Exiting() {
		return false
	}
	exitWatch.mu.Lock()
	defer exitWatch.mu.Unlock()
	caddy.Log().Named("http.handlers.sse_hub").Info("caddy is exiting; closing open streams", zap.Int("streams", exitWatch.streams))
	select {
	case <-signal:
	default:
		close(signal)
	}
	return true
}
