package ssehub

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCrossOriginProtection(t *testing.T) {
	for _, bad := range []string{"https://app.example.com/", "app.example.com", "https://app.example.com/path"} {
		if _, err := newCrossOriginProtection([]string{bad}); err == nil {
			t.Errorf("cors_origins %q accepted; it can never equal a browser's Origin", bad)
		}
	}
	h := &Handler{CORSOrigins: []string{"https://app.example"}}
	var err error
	if h.crossOrigin, err = newCrossOriginProtection(h.CORSOrigins); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		header  map[string]string
		allowed bool
	}{
		{"no browser headers (curl)", nil, true},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://hub.example"}, true},
		{"listed origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"}, true},
		{"foreign origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, false},
		{"foreign port of the same site", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://hub.example:8443"}, false},
		{"foreign Origin, no Sec-Fetch-Site", map[string]string{"Origin": "https://evil.example"}, false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodPost, "http://hub.example/events", nil)
		for k, v := range c.header {
			r.Header.Set(k, v)
		}
		if err := h.checkCrossOrigin(r); (err == nil) != c.allowed {
			t.Errorf("%s: %v, want allowed %v", c.name, err, c.allowed)
		}
	}
	open, err := newCrossOriginProtection([]string{"*"})
	if err != nil || open != nil {
		t.Errorf(`cors_origins "*": %v, %v; want no check`, open, err)
	}
}
