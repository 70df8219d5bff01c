package ssehub

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// writeChunk is how many bytes of events one write carries at most, so a
// long replay goes out in steady pieces instead of one huge buffer.
const writeChunk = 32 << 10

// buffers lends write buffers to streams only while they write, so an idle
// subscriber holds none.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk+4096); return &b }}

// stream writes the event stream until the client leaves, the hub ends the
// subscription, or this handler's config is unloaded (reload or shutdown):
// watching the module context is what keeps an open stream from pinning an
// old config and hanging a reload.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, sub *hub.Subscriber) error {
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Del("Content-Length")
	w.WriteHeader(http.StatusOK)

	opening := hub.AppendRetry(nil, time.Duration(h.Retry).Milliseconds())
	if _, err := w.Write(opening); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}

	heartbeat := time.NewTicker(time.Duration(h.Heartbeat))
	defer heartbeat.Stop()
	for {
		more, err := h.writeAvailable(w, rc, sub)
		if err != nil {
			if errors.Is(err, hub.ErrSlowConsumer) {
				h.logger.Debug("slow consumer disconnected", zap.String("hub", h.Hub), zap.String("remote", r.RemoteAddr))
			}
			return nil
		}
		if more {
			continue
		}
		select {
		case <-sub.Wake():
		case <-heartbeat.C:
			if writeAndFlush(w, rc, hub.Heartbeat) != nil {
				return nil
			}
		case <-sub.Done():
			_ = writeAndFlush(w, rc, sub.EndFrame())
			return nil
		case <-r.Context().Done():
			return nil
		case <-h.ctx.Done():
			return nil
		}
	}
}

// writeAvailable writes one chunk of available events.
func (h *Handler) writeAvailable(w http.ResponseWriter, rc *http.ResponseController, sub *hub.Subscriber) (more bool, err error) {
	bp := buffers.Get().(*[]byte)
	buf, more, nextErr := sub.Next((*bp)[:0], writeChunk)
	if cap(buf) <= 4*writeChunk { // a buffer grown by a huge event is dropped
		*bp = buf[:0]
		defer buffers.Put(bp)
	}
	if len(buf) > 0 {
		if err := writeAndFlush(w, rc, buf); err != nil {
			return false, err
		}
	}
	return more, nextErr
}

func writeAndFlush(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}
