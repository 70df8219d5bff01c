package ssehub

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// writeChunk is how many bytes of events one write carries at most, so a
// long replay goes out in steady pieces instead of one huge buffer.
const writeChunk = 32 << 10

// buffers lends write buffers to streams only while they write, so an idle
// subscriber holds none.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk+4096); return &b }}

// stream writes the event stream until the client leaves, the hub ends the
// subscription, the stream reaches its lifetime, or the config is unloaded.
// On a reload the stream keeps going for a random part of the drain window
// (so clients do not all reconnect at once); when Caddy exits it ends at
// once. Watching the module context and the exit signal is what keeps an
// open stream from pinning an old config or hanging a shutdown.
//
// It returns why the stream ended, for the log.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, sub *hub.Subscriber) (reason string) {
	out := writer{w: w, rc: http.NewResponseController(w), timeout: time.Duration(h.WriteTimeout), clear: r.ProtoMajor >= 2}
	// A slow consumer cut by the hub's janitor may be blocked in a write:
	// a past deadline fails that write at once (net.Conn deadlines may be
	// set from any goroutine).
	rc := out.rc
	sub.SetInterrupt(func() { _ = rc.SetWriteDeadline(time.Now()) })
	defer func() {
		if sub.SlowConsumer() {
			reason = "slow_consumer"
		}
	}()
	setStreamHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	retryHint := hub.AppendRetry(nil, time.Duration(h.Retry).Milliseconds())
	if out.write(retryHint) != nil {
		return "write_error"
	}

	exiting, unwatch := watchExit()
	defer unwatch()
	heartbeat := time.NewTicker(time.Duration(h.Heartbeat))
	defer heartbeat.Stop()
	var lifetime <-chan time.Time // nil, never ready, without max_lifetime
	if h.MaxLifetime > 0 {
		t := time.NewTimer(h.lifetime())
		defer t.Stop()
		lifetime = t.C
	}
	unloaded := h.ctx.Done()
	var drained <-chan time.Time
	for {
		more, err := h.writeAvailable(&out, sub)
		if errors.Is(err, hub.ErrSlowConsumer) {
			return "slow_consumer"
		} else if err != nil {
			return "write_error"
		}
		if more {
			continue
		}
		select {
		case <-sub.Wake():
		case <-heartbeat.C:
			if out.write(hub.Heartbeat) != nil {
				return "write_error"
			}
		case <-sub.Done():
			_ = out.write(sub.EndFrame())
			return "closed_by_hub"
		case <-r.Context().Done():
			return "client_gone"
		case <-exiting:
			return "shutdown"
		case <-unloaded:
			unloaded = nil // keep streaming until the drain moment
			drained = time.After(jitter(time.Duration(*h.ReloadDrain), 1))
		case <-drained:
			_ = out.write(retryHint)
			return "reload_drain"
		case <-lifetime:
			_ = out.write(retryHint)
			return "max_lifetime"
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

// lifetime is MaxLifetime less up to 10%, so streams opened together do
// not all end together.
func (h *Handler) lifetime() time.Duration {
	d := time.Duration(h.MaxLifetime)
	return d - jitter(d/10, 1)
}

// jitter returns a random duration in [0, d*fraction).
func jitter(d time.Duration, fraction float64) time.Duration {
	n := int64(float64(d) * fraction)
	if n <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(n))
}

// writeAvailable writes one chunk of available events.
func (h *Handler) writeAvailable(out *writer, sub *hub.Subscriber) (more bool, err error) {
	bp := buffers.Get().(*[]byte)
	buf, more, nextErr := sub.Next((*bp)[:0], writeChunk)
	if cap(buf) <= 4*writeChunk { // a buffer grown by a huge event is dropped
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

// writer writes and flushes through Caddy's response writer with a write
// deadline, so a client that stops reading cannot hold the stream forever.
//
// Setting a deadline costs more than a small write here, so on HTTP/1.1 it
// is only pushed forward when less than half the timeout is left: a write
// that blocks still fails within timeout/2 to timeout. A stale deadline on
// an idle HTTP/1.1 connection is harmless (nothing is being written). On
// HTTP/2 and HTTP/3 an expired deadline resets even an idle stream, so
// there it is set before and cleared after every write.
type writer struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	clear    bool      // clear the deadline after each write (HTTP/2+)
	deadline time.Time // the deadline set on the connection, if any
}

func (o *writer) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	now := time.Now()
	set := false
	if o.clear || o.deadline.Sub(now) < o.timeout/2 {
		if set = o.rc.SetWriteDeadline(now.Add(o.timeout)) == nil; set {
			o.deadline = now.Add(o.timeout)
		}
	}
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	if err := o.rc.Flush(); err != nil {
		return err
	}
	if o.clear && set {
		_ = o.rc.SetWriteDeadline(time.Time{})
		o.deadline = time.Time{}
	}
	return nil
}
