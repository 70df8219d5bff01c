package ssehub

import (
	"net/http"
	"slices"
	"strings"
)

// corsMaxAge is how long a browser may cache a preflight answer, in seconds.
const corsMaxAge = "600"

// applyCORS adds CORS headers for an allowed Origin and reports whether
// the request was a preflight, which it then answers in full. An origin
// not on the list gets no CORS headers, so the browser keeps the response
// from the page; nothing is open unless configured.
func (h *Handler) applyCORS(w http.ResponseWriter, r *http.Request) (handled bool) {
	hdr := w.Header()
	if len(h.CORSOrigins) > 0 {
		hdr.Add("Vary", "Origin") // the answer depends on Origin, allowed or not
	}
	origin := r.Header.Get("Origin")
	allowed := origin != "" && (slices.Contains(h.CORSOrigins, origin) || slices.Contains(h.CORSOrigins, "*"))
	if allowed {
		// The origin itself, never "*": EventSource withCredentials needs it.
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	// A preflight: only for an allowed origin and a method this route serves.
	method := r.Header.Get("Access-Control-Request-Method")
	if !allowed || !slices.Contains(h.methods(), method) {
		w.WriteHeader(http.StatusForbidden)
		return true
	}
	hdr.Add("Vary", "Access-Control-Request-Method")
	hdr.Add("Vary", "Access-Control-Request-Headers")
	hdr.Set("Access-Control-Allow-Methods", strings.Join(h.methods(), ", "))
	hdr.Set("Access-Control-Allow-Headers", "Content-Type, Last-Event-ID, Authorization")
	hdr.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// methods are the methods this route serves.
func (h *Handler) methods() []string {
	if len(h.AllowPublish) > 0 {
		return []string{http.MethodGet, http.MethodPost}
	}
	return []string{http.MethodGet}
}
