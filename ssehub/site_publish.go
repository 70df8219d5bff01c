package ssehub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// publishOnRoute serves a POST on the handler's own route, for apps that
// cannot reach the admin endpoint. It takes the admin API's body forms
// (a JSON event, a JSON array, NDJSON, or any other body as the raw data
// of an event for the channels the request names like a subscription),
// publishes only to this handler's hub, and only to channels allow_publish
// grants; whatever handlers come before it (basic_auth, forward_auth, ...)
// decide who gets this far. A browser may publish only from the route's
// own origin or one in cors_origins.
func (h *Handler) publishOnRoute(w http.ResponseWriter, r *http.Request, repl *caddy.Replacer, hb *hub.Hub) error {
	if err := h.checkCrossOrigin(r); err != nil {
		return h.publishError(w, http.StatusForbidden, "forbidden", err)
	}
	if err := h.plan.settings.checkHeap(); err != nil {
		h.setRetryAfter(w)
		return h.publishError(w, http.StatusServiceUnavailable, "max_heap", err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, hb.Limits().MaxPublishBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return h.publishError(w, http.StatusRequestEntityTooLarge, "max_publish_bytes", fmt.Errorf("request body is over %d bytes (max_publish_bytes)", tooLarge.Limit))
		}
		return h.publishError(w, http.StatusBadRequest, "bad_request", err)
	}
	var drafts []hub.Draft
	batch := false
	contentType := r.Header.Get("Content-Type")
	if isJSON(contentType) || isNDJSON(contentType) {
		var hubName string
		hubName, drafts, batch, err = decodePublishBody(bytes.NewReader(body), isNDJSON(contentType))
		if err == nil && hubName != h.Hub && hubName != DefaultHub {
			return h.publishError(w, http.StatusForbidden, "forbidden", fmt.Errorf("this route publishes to hub %q only", h.Hub))
		}
	} else {
		var channels []string
		if channels, err = h.channelsOf(r, repl); err == nil {
			var d hub.Draft
			d, err = rawDraft(channels, r.URL.Query(), body)
			drafts = []hub.Draft{d}
		}
	}
	if err != nil {
		return h.publishError(w, statusOf(err), hub.Reason(err), err)
	}
	for _, d := range drafts {
		if denied, ok := channelRules(h.AllowPublish).allows(repl, d.Channels); !ok {
			return h.publishError(w, http.StatusForbidden, "forbidden", fmt.Errorf("not allowed to publish to channel %q", denied))
		}
	}
	results, err := hb.Publish(drafts...)
	if err != nil {
		return h.publishError(w, statusOf(err), hub.Reason(err), err)
	}
	return writePublished(w, toJSON(results), batch)
}

// publishError answers a refused publish like the admin API does.
func (h *Handler) publishError(w http.ResponseWriter, status int, reason string, err error) error {
	countPublishError(h.Hub, reason)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	return writeJSON(w, struct {
		Error string `json:"error"`
	}{err.Error()})
}

// isJSON reports whether a Content-Type names JSON.
func isJSON(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/json")
}
