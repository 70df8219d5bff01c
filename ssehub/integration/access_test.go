package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// hash is a cheap bcrypt hash for test accounts (Caddy accepts any cost).
func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// basicAuthSite puts hub (its own per test, so streams of an earlier test
// still closing cannot count) behind basic_auth.
func basicAuthSite(t *testing.T, hub string) string {
	return `
http://` + siteAddr + ` {
	basic_auth /events* {
		alice ` + hash(t, "alice-pw") + `
		bob ` + hash(t, "bob-pw") + `
		* ` + hash(t, "star-pw") + `
	}
	sse_hub /events* {
		hub ` + hub + `
		on_demand user-* public-*
		allow_subscribe user-{http.auth.user.id} public-*
		allow_publish user-{http.auth.user.id}
	}
}`
}

func as(user, password string) http.Header {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, password)
	return req.Header
}

func TestSubscribeRulesWithBasicAuth(t *testing.T) {
	loadCaddyfile(t, basicAuthSite(t, "access"))
	alice := as("alice", "alice-pw")

	own := subscribe(t, "/events/user-alice", alice)
	subscribe(t, "/events/public-news", alice)
	subscribe(t, "/events?channel=user-alice,public-news", alice)

	cases := []struct {
		name   string
		path   string
		header http.Header
		status int
		reason string
	}{
		{"another user's channel", "/events/user-bob", alice, http.StatusForbidden, `not allowed to subscribe to channel "user-bob"`},
		{"a channel that does not exist", "/events/secret", alice, http.StatusForbidden, `not allowed to subscribe to channel "secret"`},
		{"one denied channel of several", "/events?channel=user-alice&channel=user-bob", alice, http.StatusForbidden, `"user-bob"`},
		{"no credentials", "/events/public-news", nil, http.StatusUnauthorized, ""},
		// A user named "*" must not match every user's channel.
		{"placeholder value is not a pattern", "/events/user-alice", as("*", "star-pw"), http.StatusForbidden, `"user-alice"`},
	}
	for _, c := range cases {
		status, body, _ := refused(t, c.path, c.header)
		if status != c.status || !strings.Contains(body, c.reason) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, status, body, c.status, c.reason)
		}
	}
	// Refused requests create no on-demand channel.
	if _, status := getChannel(t, "access", "user-bob"); status != http.StatusNotFound {
		t.Errorf("a denied subscription created channel user-bob: %d", status)
	}

	// Alice's own channel works end to end.
	p := publishJSON(t, `{"hub":"access","channel":"user-alice","data":"for alice"}`)
	if ev := own.next(t); ev.LastEventID != p.ID {
		t.Errorf("got %+v", ev)
	}
}

func TestPublishingOnTheSiteRoute(t *testing.T) {
	loadCaddyfile(t, basicAuthSite(t, "sitepub"))
	sub := subscribe(t, "/events/user-alice", as("alice", "alice-pw"))
	post := func(path, contentType, body string, header http.Header) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, siteURL+path, strings.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		text := readAll(resp)
		var apiErr struct{ Error string }
		if json.Unmarshal([]byte(text), &apiErr) == nil && apiErr.Error != "" {
			return resp.StatusCode, apiErr.Error
		}
		return resp.StatusCode, text
	}
	alice := as("alice", "alice-pw")
	before, _ := getChannel(t, "sitepub", "user-alice")

	status, body := post("/events/user-alice?event=note", "text/plain", "raw from alice", alice)
	if status != http.StatusOK || !strings.Contains(body, `"subscribers":1`) {
		t.Fatalf("raw publish on the route: %d %s", status, body)
	}
	if ev := sub.next(t); ev.Type != "note" || ev.Data != "raw from alice" {
		t.Errorf("got %+v", ev)
	}
	status, body = post("/events", "application/json", `{"channel":"user-alice","data":{"n":1}}`, alice)
	if status != http.StatusOK {
		t.Fatalf("JSON publish on the route: %d %s", status, body)
	}
	if ev := sub.next(t); ev.Data != `{"n":1}` {
		t.Errorf("got %+v", ev)
	}

	denied := []struct {
		name, path, contentType, body string
		header                        http.Header
		status                        int
		reason                        string
	}{
		{"another user's channel", "/events/user-bob", "text/plain", "x", alice, http.StatusForbidden, `not allowed to publish to channel "user-bob"`},
		{"a batch with one denied event", "/events", "application/x-ndjson", `{"channel":"user-alice","data":"ok"}` + "\n" + `{"channel":"public-news","data":"no"}`, alice, http.StatusForbidden, `"public-news"`},
		{"another hub", "/events", "application/json", `{"hub":"admin","channel":"user-alice","data":"x"}`, alice, http.StatusForbidden, `hub "sitepub" only`},
		{"no credentials", "/events/user-alice", "text/plain", "x", nil, http.StatusUnauthorized, ""},
	}
	for _, c := range denied {
		status, body := post(c.path, c.contentType, c.body, c.header)
		if status != c.status || !strings.Contains(body, c.reason) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, status, body, c.status, c.reason)
		}
	}
	if info, _ := getChannel(t, "sitepub", "user-alice"); info.Published-before.Published != 2 {
		t.Errorf("user-alice got %d events, want the 2 allowed ones (a denied batch publishes nothing)", info.Published-before.Published)
	}
}

func TestSubscribeRulesWithForwardAuth(t *testing.T) {
	_, authAddr := shiftedAddrs(1)
	loadCaddyfile(t, `
http://`+authAddr+` {
	@carol header Authorization "Bearer carol-token"
	handle @carol {
		header Remote-User carol
		respond 200
	}
	respond 401
}

http://`+siteAddr+` {
	forward_auth /events* `+authAddr+` {
		uri /check
		copy_headers Remote-User
	}
	sse_hub /events* {
		hub fwd
		on_demand user-*
		allow_subscribe user-{http.request.header.Remote-User}
	}
}`)
	carol := http.Header{"Authorization": {"Bearer carol-token"}}
	subscribe(t, "/events/user-carol", carol)
	if status, body, _ := refused(t, "/events/user-dave", carol); status != http.StatusForbidden {
		t.Errorf("carol on dave's channel: %d %q, want 403", status, body)
	}
	if status, _, _ := refused(t, "/events/user-carol", http.Header{"Authorization": {"Bearer wrong"}}); status != http.StatusUnauthorized {
		t.Errorf("a bad token: %d, want 401 from the auth service", status)
	}
}

func TestCORS(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events* {
		hub cors
		allow_publish news
		cors_origins https://app.example
	}
	sse_hub /closed* {
		hub cors
	}
}`)
	s := subscribe(t, "/events/news", http.Header{"Origin": {"https://app.example"}})
	h := s.resp.Header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Errorf("allowed origin: ACAO=%q ACAC=%q Vary=%q", h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), h.Values("Vary"))
	}
	foreign := subscribe(t, "/events/news", http.Header{"Origin": {"https://evil.example"}})
	if v := foreign.resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("foreign origin got Access-Control-Allow-Origin %q", v)
	}
	closed := subscribe(t, "/closed/news", http.Header{"Origin": {"https://app.example"}})
	if v := closed.resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("a route without cors_origins answered Access-Control-Allow-Origin %q", v)
	}

	preflight := func(path, origin, method string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, siteURL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight("/events/news", "https://app.example", "POST"); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight from the allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("/events/news", "https://evil.example", "POST"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from a foreign origin: %d %v, want 403 without CORS headers", resp.StatusCode, resp.Header)
	}
	if resp := preflight("/events/news", "https://app.example", "DELETE"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("preflight for a method the route does not serve: %d, want 403", resp.StatusCode)
	}
}

// TestAdminRefusesCrossOriginBrowsers shows what a page on another origin
// gets from the admin publish route with Caddy's default admin settings:
// Caddy's origin check refuses it.
func TestAdminRefusesCrossOriginBrowsers(t *testing.T) {
	loadCaddyfile(t, adminSite)
	for _, header := range []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Sec-Fetch-Mode": {"cors"}}, // what fetch() sends, even without Origin
	} {
		req, _ := http.NewRequest(http.MethodPost, adminURL+"/sse_hub/publish", strings.NewReader(`{"hub":"admin","channel":"news","data":"x"}`))
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%v: %d %s, want 403 without CORS headers", header, resp.StatusCode, body)
		}
	}
	if info, _ := getChannel(t, "admin", "news"); info.Published != 0 {
		t.Errorf("a refused cross-origin request published %d events", info.Published)
	}
}
