package ssehub

import (
	"bytes"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lean"
	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// newLeanEngine builds the engine of a handler with Lean set.
func (h *Handler) newLeanEngine() *lean.Engine {
	return lean.NewEngine(lean.Settings{
		Heartbeat:    time.Duration(h.Heartbeat),
		WriteTimeout: time.Duration(h.WriteTimeout),
		Retry:        hub.AppendRetry(nil, time.Duration(h.Retry).Milliseconds()),
	})
}

// prepareLean decides, before subscribing, whether r takes the lean path:
// it must be an HTTP/1.x GET (plain, or over TLS where lean.TLSSupported)
// whose connection net/http can hand over.
// It returns net/http's own response writer (beneath every wrapper, so no
// wrapper keeps a claim on the connection) and a connection to subscribe
// with, or nil for the normal path.
func (h *Handler) prepareLean(w http.ResponseWriter, r *http.Request) (http.Hijacker, *lean.Conn) {
	if h.lean == nil || r.ProtoMajor != 1 || r.Method != http.MethodGet || r.TLS != nil && !lean.TLSSupported {
		return nil, nil
	}
	hj := innermostHijacker(w)
	if hj == nil {
		return nil, nil
	}
	c := h.lean.Prepare()
	if c == nil {
		return nil, nil
	}
	return hj, c
}

// innermostHijacker unwraps w down to net/http's writer and returns it if
// it can hand over its connection.
func innermostHijacker(w http.ResponseWriter) http.Hijacker {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	hj, _ := w.(http.Hijacker)
	return hj
}

// serveLean takes the connection over from net/http, and parks it with
// its subscription in the lean engine, which writes the response head, the
// retry hint and then the events. The handler returns at once.
func (h *Handler) serveLean(w http.ResponseWriter, r *http.Request, repl *caddy.Replacer, hj http.Hijacker, c *lean.Conn, sub *hub.Subscriber, channels []string, client string) {
	nc, _, err := hj.Hijack() // net/http's buffered reader is dropped: a stream reads nothing more
	if err != nil {
		// net/http fails a hijack only once the connection is gone or
		// already taken, so nothing can be written either way.
		sub.Close()
		h.logger.Debug("lean path: taking over the connection failed", zap.Error(err))
		return
	}
	setStreamHeaders(w.Header())
	// Every wrapper sees the head go out as on the normal path: the header
	// directive applies its deferred operations, the access log records
	// 200. net/http, beneath them, writes nothing on a hijacked connection
	// (it notes that in Caddy's debug log).
	w.WriteHeader(http.StatusOK)
	head := leanHead(w.Header())
	head = hub.AppendRetry(head, time.Duration(h.Retry).Milliseconds())
	hubName := h.Hub
	onClose := func(reason lifecycle.EndReason) { countStreamClosed(hubName, pathLean, reason) }
	if h.logger.Core().Enabled(zap.DebugLevel) {
		log := h.logger.With(connectionFields(r, repl)...)
		log.Debug("stream opened", zap.String("hub", h.Hub), zap.Strings("channels", channels),
			zap.String("client_ip", client), zap.String("last_event_id", h.lastEventID(r)), zap.Bool("lean", true))
		start := time.Now()
		onClose = func(reason lifecycle.EndReason) {
			countStreamClosed(hubName, pathLean, reason)
			log.Debug("stream closed", zap.String("reason", string(reason)), zap.Duration("duration", time.Since(start)))
		}
	}
	h.lean.Adopt(c, nc, sub, head, time.Duration(h.MaxLifetime), onClose)
}

// leanHead is the response head of a lean stream: the headers earlier
// handlers set (Server, CORS, the header directive...) with the stream's
// own. The body is delimited by the connection's close, as net/http would
// not chunk a response it never sees.
func leanHead(hdr http.Header) []byte {
	hdr.Del("Content-Length")
	hdr.Del("Transfer-Encoding")
	hdr.Del("Content-Encoding") // encode may have picked one; the stream goes out as is
	hdr.Set("Connection", "close")
	if _, ok := hdr["Date"]; !ok {
		hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	for k, vs := range hdr { // stricter than net/http, which turns CR/LF in a value into spaces: drop it
		if !httpguts.ValidHeaderFieldName(k) {
			delete(hdr, k)
			continue
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				delete(hdr, k)
				break
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	_ = hdr.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}
