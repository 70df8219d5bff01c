package integration

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// leanTLSPage opens an EventSource on its own origin and records what it
// learns: the events, the protocol its page was loaded over, and whether
// the site offers HTTP/3 (Alt-Svc), which a browser would move to.
const leanTLSPage = `<!doctype html>
<script>
window.lt = {received: [], opens: 0};
fetch("/page.html", {cache: "no-store"}).then(r => { lt.altSvc = r.headers.get("alt-svc") || ""; });
lt.protocol = performance.getEntriesByType("navigation")[0].nextHopProtocol;
const es = new EventSource("/events/feed");
es.onopen = () => lt.opens++;
es.onmessage = e => lt.received.push(e.data);
</script>`

// TestBrowserStaysOnLeanHTTP1OverTLS loads the README's events-host recipe
// (tls with alpn http/1.1, Alt-Svc removed, lean) and opens an
// EventSource from Chromium: the page and the stream go over HTTP/1.1, no
// HTTP/3 is offered, the stream is parked on the lean path, and events
// arrive.
func TestBrowserStaysOnLeanHTTP1OverTLS(t *testing.T) {
	const hubName = "leantls-browser"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(leanTLSPage), 0o644); err != nil {
		t.Fatal(err)
	}
	// Caddy picks a site's TLS settings by the name the client sends (SNI),
	// which browsers send for host names, never for IP addresses: the page
	// is on a name that Chromium resolves to the test's loopback address.
	const host = "events.sse-hub.test"
	_, port, _ := net.SplitHostPort(tlsSiteAddr)
	base := "https://" + host + ":" + port
	loadCaddyfile(t, `
`+base+` {
	tls internal {
		alpn http/1.1
	}
	header -Alt-Svc
	sse_hub /events/* {
		hub `+hubName+`
		channel feed
		lean
	}
	respond /text "ok"
	root * `+dir+`
	file_server
}`)
	client := tlsClient(t)
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, network, tlsSiteAddr)
	}
	waitFor(t, "the events host's certificate", 30*time.Second, func() bool {
		resp, err := client.Get(base + "/text")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	ctx := startBrowser(t, chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("host-resolver-rules", "MAP "+host+" 127.0.0.1"))
	navigate(t, ctx, base+"/page.html")
	waitLT(t, ctx, "the stream to open", "lt.opens === 1 && lt.altSvc !== undefined")
	waitSubscribers(t, hubName, "feed", 1)
	p := publishJSON(t, `{"hub":"`+hubName+`","channel":"feed","data":"over TLS"}`)
	waitLT(t, ctx, "the event", "lt.received.length === 1")

	var seen struct {
		Protocol string   `json:"protocol"`
		AltSvc   string   `json:"altSvc"`
		Received []string `json:"received"`
	}
	evaluate(t, ctx, "({protocol: lt.protocol, altSvc: lt.altSvc, received: lt.received})", &seen)
	if seen.Protocol != "http/1.1" || seen.AltSvc != "" || len(seen.Received) != 1 || seen.Received[0] != "over TLS" {
		t.Errorf("page saw %+v, want HTTP/1.1, no Alt-Svc, and the event %s", seen, p.ID)
	}
	if n := hubTotals(t, hubName).LeanSubscribers; n != 1 {
		t.Errorf("lean subscribers = %d, want the browser's stream parked on the lean path", n)
	}
}

// waitLT polls a condition on the page's window.lt.
func waitLT(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	waitFor(t, what, 10*time.Second, func() bool {
		var ok bool
		evaluate(t, ctx, "window.lt !== undefined && ("+cond+")", &ok)
		return ok
	})
}
