package ssehub

import (
	"fmt"
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

// newCrossOriginProtection builds the check that keeps browsers on other
// origins from publishing on the route: a form-like POST (text/plain, no
// preflight) from any page would otherwise carry the user's cookies or
// cached credentials and publish, even though the page cannot read the
// answer. Only the route's own origin and the listed ones may; clients
// that send neither Sec-Fetch-Site nor Origin (curl, servers) are not
// browsers and pass. With "*" any origin may, and there is no check.
func newCrossOriginProtection(origins []string) (*http.CrossOriginProtection, error) {
	if slices.Contains(origins, "*") {
		return nil, nil
	}
	p := http.NewCrossOriginProtection()
	for _, o := range origins {
		if err := p.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("cors_origins %q: must be an origin, scheme://host[:port], or *", o)
		}
	}
	return p, nil
}

// checkCrossOrigin reports why a publish on the route must be refused as
// a cross-origin browser request, or nil.
func (h *Handler) checkCrossOrigin(r *http.Request) error {
	if h.crossOrigin == nil {
		return nil
	}
	if err := h.crossOrigin.Check(r); err != nil {
		return fmt.Errorf("publishing from origin %q is not allowed (cors_origins)", r.Header.Get("Origin"))
	}
	return nil
}
