package ssehub

import (
	"context"
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
// so while streams are open one goroutine polls it and cancels exiting.
var exitWatch struct {
	mu      sync.Mutex
	streams int // open streams; the poller runs while > 0
	// exiting is canceled once Caddy is exiting. It is a context so that a
	// stream can be called back (context.AfterFunc) instead of selecting on
	// a channel every stream shares.
	exiting context.Context
	cancel  context.CancelFunc
	stop    chan struct{} // closed to stop the poller when streams drop to 0
}

// watchExit registers an open stream and returns a context that is
// canceled when Caddy begins to exit; call the returned func when the
// stream ends.
func watchExit() (exiting context.Context, done func()) {
	w := &exitWatch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.exiting == nil {
		w.exiting, w.cancel = context.WithCancel(context.Background())
	}
	if w.streams == 0 {
		w.stop = make(chan struct{})
		go pollExit(w.stop)
	}
	w.streams++
	return w.exiting, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.streams--; w.streams == 0 {
			close(w.stop)
		}
	}
}

// pollExit cancels exiting when Caddy is exiting, or returns when stop
// closes.
func pollExit(stop chan struct{}) {
	t := time.NewTicker(exitPollEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if cancelIfExiting() {
				return
			}
		}
	}
}

// cancelIfExiting cancels exiting if Caddy is exiting, and reports
// whether it did. A panic (a bug) is reported and skips one poll.
func cancelIfExiting() (canceled bool) {
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
	exitWatch.cancel()
	return true
}
