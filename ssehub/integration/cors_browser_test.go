package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// recipeMarker finds the README's "Access control" Caddyfiles: an HTML
// comment naming the recipe, then one fenced caddyfile block.
var recipeMarker = regexp.MustCompile("(?s)<!-- access-control: ([a-z0-9-]+) -->\n```caddyfile\n(.*?)\n```\n")

// readmeRecipe returns the README's access-control Caddyfile of that name,
// moved to the test's loopback addresses: each replacement must apply
// exactly once, so the test runs the recipe as written.
func readmeRecipe(t *testing.T, name string, replace map[string]string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range recipeMarker.FindAllStringSubmatch(string(raw), -1) {
		if m[1] != name {
			continue
		}
		recipe := m[2]
		for old, new := range replace {
			if n := strings.Count(recipe, old); n != 1 {
				t.Fatalf("README recipe %q has %q %d times, want once; update the test", name, old, n)
			}
			recipe = strings.Replace(recipe, old, new, 1)
		}
		return recipe
	}
	t.Fatalf("README has no <!-- access-control: %s --> Caddyfile", name)
	return ""
}

// crossOriginPage opens the EventSource its "stream" query names, with
// credentials, and offers the test a fetch-based publish and a second,
// probing EventSource.
const crossOriginPage = `<!doctype html>
<meta charset="utf-8">
<title>cross-origin page</title>
<script>
window.xo = {received: [], opens: 0, errors: 0, closed: false};
const es = new EventSource(new URLSearchParams(location.search).get("stream"), {withCredentials: true});
es.onopen = () => xo.opens++;
es.onmessage = (e) => xo.received.push({data: e.data, id: e.lastEventId});
es.onerror = () => { xo.errors++; xo.closed = es.readyState === EventSource.CLOSED; };

// publish resolves to the status and body, or status 0 when the browser
// withholds the answer (a network or CORS error).
xo.publish = async (url, credentials, contentType, body) => {
	try {
		const r = await fetch(url, {method: "POST", credentials, headers: {"Content-Type": contentType}, body});
		return {status: r.status, body: await r.text()};
	} catch (e) {
		return {status: 0, body: String(e)};
	}
};

// probe resolves to "open" once an EventSource opens, or "closed" when
// the browser gives it up.
xo.probe = (url, withCredentials) => new Promise((resolve) => {
	const p = new EventSource(url, {withCredentials});
	p.onopen = () => { p.close(); resolve("open"); };
	p.onerror = () => { if (p.readyState === EventSource.CLOSED) resolve("closed"); };
});
</script>
`

// fetchResult is what xo.publish resolves to.
type fetchResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// TestBrowserCrossOriginWithAuth loads the README's "Access control"
// Caddyfiles as written (basic_auth, and forward_auth to an auth service
// that accepts a session cookie), the hub on one loopback port, and in
// headless Chromium opens a page on another port, the origin in
// cors_origins. Once the browser holds credentials for the hub's origin
// the page receives events with EventSource withCredentials and publishes
// with a credentialed JSON fetch (preflighted, which authentication must
// let through); without credentials both are refused, so the browser's
// credentials are what let them in. A page on a third port, not in
// cors_origins, can neither read the stream nor publish, not even with a
// text/plain POST that needs no preflight.
func TestBrowserCrossOriginWithAuth(t *testing.T) {
	pageAddr, foreignAddr, authAddr := portAbove(siteAddr, 6), portAbove(siteAddr, 7), portAbove(siteAddr, 8)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(crossOriginPage), 0o644); err != nil {
		t.Fatal(err)
	}
	pages := fmt.Sprintf(`
http://%s, http://%s {
	root * %q
	file_server
}
`, pageAddr, foreignAddr, dir)
	moved := map[string]string{
		"http://localhost:8080 {": "http://" + siteAddr + " {",
		"https://app.example.com": "http://" + pageAddr,
	}

	t.Run("basic_auth", func(t *testing.T) {
		loadCaddyfile(t, pages+readmeRecipe(t, "basic-auth", moved))
		ctx := startBrowser(t)
		// The browser answers the hub's 401 challenge with the credentials
		// of the URL and keeps them in its HTTP auth cache for the origin;
		// the cross-origin page's credentialed requests then carry them.
		navigate(t, ctx, "http://alice:alice-pw@"+siteAddr+"/events")
		if text := pageText(t, ctx); strings.TrimSpace(text) == "" {
			t.Fatalf("the hub's origin answered the browser's credentials with an empty page (a 401?)")
		}
		crossOriginScenario(t, ctx, "user-alice", pageAddr, foreignAddr)
	})

	t.Run("forward_auth", func(t *testing.T) {
		auth := `
http://` + authAddr + ` {
	handle /login {
		header Set-Cookie "session=carol-token; Path=/; HttpOnly; SameSite=Lax"
		respond "logged in"
	}
	@carol header Cookie *session=carol-token*
	handle @carol {
		header Remote-User carol
		respond 200
	}
	respond 401
}
`
		withAuth := map[string]string{"localhost:9091": authAddr}
		for k, v := range moved {
			withAuth[k] = v
		}
		loadCaddyfile(t, pages+auth+readmeRecipe(t, "forward-auth", withAuth))
		ctx := startBrowser(t)
		// The session cookie is the host's (cookies ignore ports), so the
		// hub's origin gets it on credentialed requests.
		navigate(t, ctx, "http://"+authAddr+"/login")
		crossOriginScenario(t, ctx, "user-carol", pageAddr, foreignAddr)
	})
}

// crossOriginScenario runs the page on the allowed origin, then on the
// foreign one, against the hub's channel of the user the browser holds
// credentials for.
func crossOriginScenario(t *testing.T, ctx context.Context, channel, pageAddr, foreignAddr string) {
	t.Helper()
	streamURL := siteURL + "/events/" + channel
	publishURL := siteURL + "/events"
	before, _ := getChannel(t, "default", channel)

	// Unauthenticated OPTIONS reach sse_hub, which answers the preflight
	// and nothing else.
	checkOptionsOnly(t, "http://"+pageAddr, channel)

	navigate(t, ctx, "http://"+pageAddr+"/page.html?stream="+streamURL)
	waitXO(t, ctx, "the credentialed stream to open", "xo.opens === 1", 10*time.Second)
	waitSubscribers(t, "default", channel, 1)
	fromAdmin := publishJSON(t, `{"channel":"`+channel+`","data":"from the admin API"}`)
	waitXO(t, ctx, "the admin API's event", "xo.received.length === 1", 10*time.Second)

	res := pagePublish(t, ctx, publishURL, "include", "application/json", `{"channel":"`+channel+`","data":"from the page"}`)
	if res.Status != http.StatusOK || !strings.Contains(res.Body, `"subscribers":1`) {
		t.Fatalf("credentialed JSON fetch from the allowed origin: %+v, want 200 reaching the page's stream", res)
	}
	var fromPage published
	mustUnmarshal(t, res.Body, &fromPage)
	waitXO(t, ctx, "the page's own event", "xo.received.length === 2", 10*time.Second)
	var received []struct{ Data, ID string }
	evaluate(t, ctx, "xo.received", &received)
	want := []struct{ Data, ID string }{{"from the admin API", fromAdmin.ID}, {"from the page", fromPage.ID}}
	if fmt.Sprint(received) != fmt.Sprint(want) {
		t.Errorf("the page received %+v, want %+v", received, want)
	}

	// Without credentials the same requests fail authentication: the
	// answers above were let in by the browser's credentials.
	if res := pagePublish(t, ctx, publishURL, "omit", "application/json", `{"channel":"`+channel+`","data":"no credentials"}`); res.Status != 0 {
		t.Errorf("JSON fetch without credentials: %+v, want the browser to withhold a refused answer", res)
	}
	if got := probe(t, ctx, streamURL, false); got != "closed" {
		t.Errorf("EventSource without credentials: %s, want closed", got)
	}
	if got := probe(t, ctx, streamURL, true); got != "open" {
		t.Errorf("a second EventSource with credentials: %s, want open", got)
	}

	// A page on an origin not in cors_origins, with the same credentials
	// in the browser: its stream is given up and nothing it sends publishes.
	navigate(t, ctx, "http://"+foreignAddr+"/page.html?stream="+streamURL)
	waitXO(t, ctx, "the foreign page's stream to be refused", "xo.closed", 10*time.Second)
	var opens, got int
	evaluate(t, ctx, "xo.opens", &opens)
	evaluate(t, ctx, "xo.received.length", &got)
	if opens != 0 || got != 0 {
		t.Errorf("the foreign page's EventSource opened %d times and received %d events, want none", opens, got)
	}
	for _, c := range []struct{ contentType, body, path string }{
		{"application/json", `{"channel":"` + channel + `","data":"foreign json"}`, publishURL},
		{"text/plain", "foreign raw", streamURL}, // a "simple" request: no preflight
	} {
		if res := pagePublish(t, ctx, c.path, "include", c.contentType, c.body); res.Status != 0 {
			t.Errorf("%s fetch from a foreign origin: %+v, want the browser to withhold a refused answer", c.contentType, res)
		}
	}
	after, _ := getChannel(t, "default", channel)
	if n := after.Published - before.Published; n != 2 {
		t.Errorf("%s got %d events, want only the 2 allowed ones", channel, n)
	}
}

// checkOptionsOnly sends OPTIONS without credentials, as browsers send
// preflights: a preflight from the allowed origin is answered with 204
// and the CORS headers, any other OPTIONS with 405; neither streams.
func checkOptionsOnly(t *testing.T, origin, channel string) {
	t.Helper()
	for _, c := range []struct {
		header http.Header
		status int
	}{
		{http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"}}, http.StatusNoContent},
		{http.Header{"Origin": {origin}}, http.StatusMethodNotAllowed},
		{nil, http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(http.MethodOptions, siteURL+"/events/"+channel, nil)
		for k, v := range c.header {
			req.Header[k] = v
		}
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("OPTIONS %v: %v", c.header, err)
		}
		body := readAll(resp)
		resp.Body.Close()
		if resp.StatusCode != c.status || strings.Contains(resp.Header.Get("Content-Type"), "event-stream") {
			t.Errorf("OPTIONS %v: %d %s %q, want %d and no stream", c.header, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status)
		}
		if c.status == http.StatusNoContent && (resp.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST")) {
			t.Errorf("preflight answer lacks the CORS headers: %v", resp.Header)
		}
	}
}

// navigate loads url in the tab and waits for its load event.
func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	navCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(navCtx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
}

// pageText is the text of the page's body.
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	var text string
	evaluate(t, ctx, "document.body ? document.body.innerText : ''", &text)
	return text
}

// evaluate runs a JavaScript expression in the page, awaiting a promise.
func evaluate(t *testing.T, ctx context.Context, expr string, out any) {
	t.Helper()
	evalCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	raw, err := chromedp.Run(evalCtx, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("evaluating %s: decoding %s: %v", expr, raw, err)
	}
}

// waitXO polls a condition on the cross-origin page's window.xo. A poll
// that started in the context of the document being replaced (the
// navigation had not quite finished) fails with "Cannot find context":
// it polls again, in the new document, until the deadline.
func waitXO(t *testing.T, ctx context.Context, what, cond string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pollCtx, cancel := context.WithDeadline(ctx, deadline)
		_, err := chromedp.Run(pollCtx, chromedp.Poll[bool]("window.xo !== undefined && ("+cond+")",
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), "Cannot find context with specified id") && time.Now().Before(deadline) {
			continue
		}
		var state json.RawMessage
		evaluate(t, ctx, "window.xo ? {opens: xo.opens, errors: xo.errors, closed: xo.closed, received: xo.received} : null", &state)
		t.Fatalf("waiting %v for %s (%s): %v; page state %s", within, what, cond, err, state)
	}
}

func pagePublish(t *testing.T, ctx context.Context, url, credentials, contentType, body string) fetchResult {
	t.Helper()
	var res fetchResult
	evaluate(t, ctx, fmt.Sprintf("xo.publish(%s, %s, %s, %s)", jsonString(url), jsonString(credentials), jsonString(contentType), jsonString(body)), &res)
	return res
}

func probe(t *testing.T, ctx context.Context, url string, withCredentials bool) string {
	t.Helper()
	var got string
	evaluate(t, ctx, fmt.Sprintf("xo.probe(%s, %t)", jsonString(url), withCredentials), &got)
	return got
}
