package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dashboardSite serves a hub and the dashboard page for it, with the
// publish form allowed for news.
var dashboardSite = `
http://` + siteAddr + ` {
	sse_hub /events/* {
		hub dash
		channel news
		channel chat
	}
	sse_hub_dashboard /dash* {
		hub dash
		allow_publish news
	}
}`

// TestBrowserDashboard loads the dashboard page into headless Chromium
// and reads its live figures: a publish through the admin API shows in the
// hub's published count within a second, subscriber counts follow a
// subscriber, the recent-events list of a chosen channel shows the
// channel's events, and the publish form reaches a subscriber. With
// SSEHUB_UPDATE_SCREENSHOT=1 it writes example/dashboard/dashboard.png.
func TestBrowserDashboard(t *testing.T) {
	loadCaddyfile(t, dashboardSite)
	ctx := startBrowser(t)
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 960)); err != nil {
		t.Fatal(err)
	}
	navigate(t, ctx, siteURL+"/dash")
	waitDash(t, ctx, "the first figures", `sseDashboard.figures !== null && document.querySelector('tr[data-hub="dash"]') !== null`, 10*time.Second)

	// Subscriber counts follow a subscriber.
	sub := subscribe(t, "/events/news", nil)
	waitDash(t, ctx, "news to show 1 subscriber", `channelCell("news", 1) === "1"`, 5*time.Second)

	// A publish shows in the hub's published count within a second.
	before := dashNumber(t, ctx, `hubCell("dash", 3)`)
	first := publishJSON(t, `{"hub":"dash","channel":"news","data":"first"}`)
	start := time.Now()
	waitDash(t, ctx, "the publish to show", fmt.Sprintf(`hubCell("dash", 3) === "%d"`, before+1), time.Second)
	t.Logf("the page showed the publish %v after the admin API answered", time.Since(start).Round(time.Millisecond))
	if ev := sub.next(t); ev.LastEventID != first.ID {
		t.Fatalf("subscriber got %+v", ev)
	}

	// Recent events of a chosen channel: what it holds, then live ones.
	evaluate(t, ctx, `(() => { const s = document.getElementById("channel"); s.value = "news"; s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	waitDash(t, ctx, "the feed to show news's history", fmt.Sprintf(`sseDashboard.events.some(e => e.id === %q && e.data === "first")`, first.ID), 5*time.Second)
	second := publishJSON(t, `{"hub":"dash","channel":"news","data":"second"}`)
	waitDash(t, ctx, "the feed to show a live event", fmt.Sprintf(`sseDashboard.events.some(e => e.id === %q && e.data === "second")`, second.ID), 5*time.Second)
	sub.next(t)

	// The publish form reaches subscribers; a channel allow_publish does
	// not name is refused.
	submit := func(channel, data string) {
		t.Helper()
		evaluate(t, ctx, fmt.Sprintf(`(() => { const f = document.getElementById("publish");
			f.channel.value = %s; f.data.value = %s; f.requestSubmit(); return true; })()`, jsonString(channel), jsonString(data)), new(bool))
	}
	waitDash(t, ctx, "the publish form to show", `!document.getElementById("publish-card").hidden`, 5*time.Second)
	submit("news", "from the form")
	if ev := sub.next(t); ev.Data != "from the form" {
		t.Fatalf("the form's event arrived as %+v", ev)
	}
	waitDash(t, ctx, "the form to confirm", `document.getElementById("publish-result").textContent.startsWith("published ")`, 5*time.Second)
	submit("chat", "not allowed")
	waitDash(t, ctx, "the form to show the refusal", `document.getElementById("publish-result").textContent.startsWith("403")`, 5*time.Second)
	if info, _ := getChannel(t, "dash", "chat"); info.Published != 0 {
		t.Errorf("the form published %d events to chat, which allow_publish does not name", info.Published)
	}

	// Some traffic for the charts, then the screenshot.
	for i := range 20 {
		publishJSON(t, fmt.Sprintf(`{"hub":"dash","channel":"news","event":"tick","data":{"n":%d}}`, i))
		if i%5 == 4 {
			n := dashNumber(t, ctx, `sseDashboard.series.published.length`)
			waitDash(t, ctx, "another sample", fmt.Sprintf("sseDashboard.series.published.length > %d", n), 5*time.Second)
		}
	}
	waitDash(t, ctx, "the publish rate chart to have data", `sseDashboard.series.published.some(v => v > 0)`, 5*time.Second)
	shotCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 10<<10 {
		t.Errorf("the screenshot is only %d bytes", len(png))
	}
	if os.Getenv("SSEHUB_UPDATE_SCREENSHOT") != "" {
		if err := os.WriteFile(filepath.Join("..", "..", "example", "dashboard", "dashboard.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dashHelpers are defined in the page for the test's conditions.
const dashHelpers = `(() => {
	window.hubCell = (hub, i) => { const r = document.querySelector('tr[data-hub="' + hub + '"]'); return r ? r.cells[i].textContent : null; };
	window.channelCell = (ch, i) => { const r = document.querySelector('tr[data-channel="' + ch + '"]'); return r ? r.cells[i].textContent : null; };
	return true;
})()`

func waitDash(t *testing.T, ctx context.Context, what, cond string, within time.Duration) {
	t.Helper()
	evaluate(t, ctx, dashHelpers, new(bool))
	pollCtx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if _, err := chromedp.Run(pollCtx, chromedp.Poll[bool]("window.sseDashboard !== undefined && ("+cond+")",
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(within))); err != nil {
		var text string
		evaluate(t, ctx, "document.querySelector('main').innerText", &text)
		t.Fatalf("waiting %v for %s (%s): %v; page:\n%s", within, what, cond, err, text)
	}
}

func dashNumber(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	var v any
	evaluate(t, ctx, expr, &v)
	n, err := strconv.Atoi(strings.ReplaceAll(fmt.Sprint(v), ",", ""))
	if err != nil {
		t.Fatalf("%s = %v, not a number", expr, v)
	}
	return n
}
