package ssehub

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// buffers lends write buffers to streams only while they write, so an idle
// subscriber holds none.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, lifecycle.BufferSize); return &b }}

// stream writes the event stream until the client leaves, the hub ends the
// subscription, the stream reaches its lifetime, or the config is unloaded
// (package lifecycle says when each happens and what goes out last; the
// lean engine follows the same). On a reload the stream keeps going until
// its moment in the drain window; when Caddy exits it ends at once.
// Watching the module context and the exit signal is what keeps an open
// stream from pinning an old config or hanging a shutdown.
//
// It returns why the stream ended, for the log and the metrics.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, sub *hub.Subscriber) (reason lifecycle.EndReason) {
	writeTimeout, giveBack := takeOverIdleWrites(r, time.Duration(h.WriteTimeout))
	defer giveBack()
	watch, unwatchWrites := watchWrites(writeTimeout, failWrites(w))
	defer unwatchWrites()
	out := writer{w: w, rc: http.NewResponseController(w), watch: watch}
	// A slow consumer cut by the hub's janitor may be blocked in a write:
	// the watchdog's way fails that write at once.
	sub.SetInterrupt(watch.interrupt)
	defer func() {
		if sub.SlowConsumer() {
			reason = lifecycle.SlowConsumer
		}
	}()
	setStreamHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	retryHint := hub.AppendRetry(nil, time.Duration(h.Retry).Milliseconds())
	if out.write(retryHint) != nil {
		return lifecycle.WriteError
	}
	end := func(reason lifecycle.EndReason) lifecycle.EndReason {
		_ = out.write(lifecycle.LastFrame(reason, sub, retryHint))
		return reason
	}

	exiting, unwatch := watchExit()
	defer unwatch()
	waiter := newStreamWaiter(r.ProtoMajor, sub, r.Context(), exiting, h.ctx)
	defer waiter.stop()
	// One timer per stream, for whatever the schedule has next.
	sched := lifecycle.NewSchedule(time.Now(), time.Duration(h.Heartbeat), time.Duration(h.MaxLifetime))
	waiter.arm(sched.Next())
	for {
		more, err := h.writeAvailable(&out, sub)
		if errors.Is(err, hub.ErrSlowConsumer) {
			return lifecycle.SlowConsumer
		} else if err != nil {
			return lifecycle.WriteError
		}
		if more {
			continue
		}
		switch waiter.wait() {
		case wokeEvents:
		case wokeTimer:
			due := sched.Due(time.Now())
			if reason, ends := due.Ends(); ends {
				return end(reason)
			}
			if due&lifecycle.DueHeartbeat != 0 && out.write(hub.Heartbeat) != nil {
				return lifecycle.WriteError
			}
			waiter.arm(sched.Next())
		case wokeClosed:
			return end(lifecycle.ClosedByHub)
		case wokeClientGone:
			return lifecycle.ClientGone
		case wokeExiting:
			return lifecycle.Shutdown
		case wokeUnloaded:
			// keep streaming until the drain moment
			sched.Drain(time.Now(), time.Duration(*h.ReloadDrain))
			waiter.arm(sched.Next())
		}
	}
}

// setStreamHeaders sets the headers of an event stream response.
func setStreamHeaders(hdr http.Header) {
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Del("Content-Length")
}

// writeAvailable writes one chunk of available events.
func (h *Handler) writeAvailable(out *writer, sub *hub.Subscriber) (more bool, err error) {
	bp := buffers.Get().(*[]byte)
	buf, more, nextErr := sub.Next((*bp)[:0], lifecycle.WriteChunk)
	if lifecycle.KeepBuffer(buf) {
		*bp = buf[:0]
		defer buffers.Put(bp)
	}
	if len(buf) > 0 {
		if err := out.write(buf); err != nil {
			return false, err
		}
	}
	return more, nextErr
}

// writer writes and flushes through Caddy's response writer. Its writes
// carry no deadline: the write watchdog fails one that takes longer than
// write_timeout, so a client that stops reading cannot hold the stream.
type writer struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	watch *writeWatch
}

func (o *writer) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	o.watch.begin()
	_, err := o.w.Write(b)
	if err == nil {
		err = o.rc.Flush()
	}
	return errors.Join(err, o.watch.end())
}
