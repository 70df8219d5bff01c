package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium package; .ci/run installs it. The test
// never downloads a browser and is never skipped: without Chromium it fails.
const chromiumPath = "/usr/bin/chromium"

// exampleSite is the example's own Caddyfile site block (example/Caddyfile),
// moved to the test's loopback address and serving the demo page from the
// checkout. generation adds a response header, so that loading generation 2
// after 1 is a real config reload. lean puts the streams on the lean path.
func exampleSite(t *testing.T, generation int, lean bool) string {
	t.Helper()
	raw, err := os.ReadFile("../../example/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	demo, err := filepath.Abs("../../example/demo")
	if err != nil {
		t.Fatal(err)
	}
	site := string(raw)
	for _, r := range []struct{ old, new string }{
		{"http://localhost:8080 {", "http://" + siteAddr + " {"},
		{"root * example/demo", fmt.Sprintf("root * %q", demo)},
		{"\tfile_server\n", fmt.Sprintf("\theader X-Test-Generation %d\n\tfile_server\n", generation)},
	} {
		if strings.Count(site, r.old) != 1 {
			t.Fatalf("example/Caddyfile no longer has %q once; update exampleSite", r.old)
		}
		site = strings.Replace(site, r.old, r.new, 1)
	}
	if lean {
		if strings.Count(site, "\t\t\ton_demand room-*\n") != 1 {
			t.Fatal("example/Caddyfile no longer has its on_demand line once; update exampleSite")
		}
		site = strings.Replace(site, "\t\t\ton_demand room-*\n", "\t\t\ton_demand room-*\n\t\t\tlean\n", 1)
	}
	// The example's global options (its admin address) are the harness's
	// business: keep only the site block.
	return site[strings.Index(site, "http://"+siteAddr+" {"):]
}

// startBrowser starts headless Chromium with a fresh profile and returns a
// chromedp context for one tab; the browser stops when the test ends.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's Chromium at %s (apt-get install -y chromium; .ci/run installs it): %v", chromiumPath, err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // the tests run as root
		chromedp.Flag("disable-gpu", true),
		// This machine has no network beyond loopback: no background
		// traffic, no QUIC, no updates or sync.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Reconnection delays are measured: no timer throttling.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
	}, extra...)...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// pageEvent is one event as the demo page's listeners saw it.
type pageEvent struct {
	Type        string `json:"type"`
	Data        string `json:"data"`
	LastEventID string `json:"lastEventId"`
}

// pageState is what the demo page exposes on window.sseDemo.
type pageState struct {
	Received   []pageEvent `json:"received"`
	Opens      []float64   `json:"opens"`  // performance.now() ms
	Errors     []float64   `json:"errors"` // performance.now() ms
	ReadyState int         `json:"readyState"`
}

const readPageState = `({
	received: sseDemo.received.map(e => ({type: e.type, data: e.data, lastEventId: e.lastEventId})),
	opens: sseDemo.opens, errors: sseDemo.errors, readyState: sseDemo.readyState(),
})`

// waitPage polls a JavaScript condition on the page until it holds, then
// returns the page state; on timeout it fails with the state it saw.
func waitPage(t *testing.T, ctx context.Context, what, cond string, within time.Duration) pageState {
	t.Helper()
	pollCtx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	_, err := chromedp.Run(pollCtx, chromedp.Poll[bool]("window.sseDemo !== undefined && ("+cond+")",
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(within)))
	state := pageStateOf(t, ctx)
	if err != nil {
		t.Fatalf("waiting %v for %s (%s): %v; page: %d events received, opens %v, errors %v, readyState %d",
			within, what, cond, err, len(state.Received), state.Opens, state.Errors, state.ReadyState)
	}
	return state
}

func pageStateOf(t *testing.T, ctx context.Context) pageState {
	t.Helper()
	evalCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	state, err := chromedp.Run(evalCtx, chromedp.Evaluate[pageState](readPageState))
	if err != nil {
		t.Fatalf("reading the page state: %v", err)
	}
	return state
}

// checkEvents compares what the page received from index from on with want.
func checkEvents(t *testing.T, state pageState, from int, want []pageEvent) {
	t.Helper()
	got := state.Received[from:]
	if len(got) != len(want) {
		t.Errorf("the page received %d events, want %d:", len(got), len(want))
	}
	for i := range max(len(got), len(want)) {
		var g, w pageEvent
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("event %d: got type %q id %q data %.60q (%d bytes), want type %q id %q data %.60q (%d bytes)",
				from+i, g.Type, g.LastEventID, g.Data, len(g.Data), w.Type, w.LastEventID, w.Data, len(w.Data))
		}
	}
}

// TestBrowserDemoPage loads the example's demo page from a real Caddy
// serving the example's config into headless Chromium, and checks in the
// page what its EventSource delivers: exact data, named events, the retry
// delay, and reconnection with Last-Event-ID after the hub ends the stream
// (a channel closed through the admin API, a config reload), with exactly
// the events published while the page was away.
func TestBrowserDemoPage(t *testing.T) { browserDemoPage(t, false) }

// TestBrowserDemoPageLean is the same on the lean path, whose response
// the module writes itself and ends by closing the connection.
func TestBrowserDemoPageLean(t *testing.T) { browserDemoPage(t, true) }

func browserDemoPage(t *testing.T, lean bool) {
	loadCaddyfile(t, exampleSite(t, 1, lean))
	ctx := startBrowser(t)
	navCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(navCtx, chromedp.Navigate(siteURL+"/?channels=news,chat&types=greeting,update")); err != nil {
		t.Fatalf("loading the demo page: %v", err)
	}
	waitPage(t, ctx, "the stream to open", "sseDemo.opens.length === 1", 10*time.Second)
	waitSubscribers(t, "default", "news", 1)
	waitSubscribers(t, "default", "chat", 1)

	publish := func(event string) published {
		t.Helper()
		return publishJSON(t, event)
	}
	seen := 0 // events of the page already checked

	// Exact data. The browser reads a lone CR as a line end, as the
	// standard says, so it arrives as LF.
	dataCases := []struct{ name, data, want string }{
		{"plain", "hello", "hello"},
		{"multi-line", "line 1\nline 2\n\nline 4\n", "line 1\nline 2\n\nline 4\n"},
		{"CRLF", "a\r\nb\r\n", "a\nb\n"},
		{"lone CR", "a\rb\rc", "a\nb\nc"},
		{"leading space", "  two spaces, then text", "  two spaces, then text"},
		{"empty", "", ""},
		{"only newlines", "\n\n", "\n\n"},
		{"emoji", "hi 👋🏽 𝄞 家", "hi 👋🏽 𝄞 家"},
		{"256 KiB", strings.Repeat("0123456789abcdef", 16<<10), strings.Repeat("0123456789abcdef", 16<<10)},
	}
	var want []pageEvent
	for _, c := range dataCases {
		p := publish(`{"channel":"news","data":` + jsonString(c.data) + `}`)
		want = append(want, pageEvent{"message", c.want, p.ID})
	}
	state := waitPage(t, ctx, "the data cases", fmt.Sprintf("sseDemo.received.length >= %d", seen+len(want)), 20*time.Second)
	checkEvents(t, state, seen, want)
	seen += len(want)

	// Named events reach the addEventListener handlers of their type (JSON
	// data as its compact text); a type nobody listens for reaches no one,
	// not even onmessage.
	greeting := publish(`{"channel":"chat","event":"greeting","data":{"text": "hi"}}`)
	update := publish(`{"channel":"news","event":"update","data":"new headline"}`)
	publish(`{"channel":"news","event":"nobody-listens","data":"lost on purpose"}`)
	after := publish(`{"channel":"news","data":"after the unheard one"}`)
	state = waitPage(t, ctx, "the named events", fmt.Sprintf("sseDemo.received.length >= %d", seen+3), 10*time.Second)
	checkEvents(t, state, seen, []pageEvent{
		{"greeting", `{"text":"hi"}`, greeting.ID},
		{"update", "new headline", update.ID},
		{"message", "after the unheard one", after.ID},
	})
	seen += 3

	// Cut 1: the channel is closed through the admin API after an event
	// that sets retry to 4 s (longer than the hub's 3 s default, so a
	// browser ignoring it would come back too soon). The browser must wait
	// that long, then resume with its Last-Event-ID and get exactly what
	// was published meanwhile, on both channels of its stream.
	slow := publish(`{"channel":"news","data":"slow retry","retry":4000}`)
	state = waitPage(t, ctx, "the retry event", fmt.Sprintf("sseDemo.received.length >= %d", seen+1), 10*time.Second)
	checkEvents(t, state, seen, []pageEvent{{"message", "slow retry", slow.ID}})
	seen++
	if status, body := adminRequest(t, http.MethodDelete, "/sse_hub/hubs/default/channels/news", "", ""); status != http.StatusOK {
		t.Fatalf("closing news: %d %s", status, body)
	}
	state = waitPage(t, ctx, "the stream to end", "sseDemo.errors.length === 1", 10*time.Second)
	checkEvents(t, state, seen, []pageEvent{{"sse_hub.closed", `{"channel":"news"}`, slow.ID}})
	seen++
	away := publishWhileAway(t, []string{
		`{"channel":"news","data":"away 1"}`,
		`{"channel":"chat","event":"greeting","data":"away 2"}`,
		`{"channel":"news","data":"away\n3"}`,
	})
	state = waitPage(t, ctx, "the browser to reconnect", "sseDemo.opens.length === 2", 15*time.Second)
	if delay := state.Opens[1] - state.Errors[0]; delay < 3500 {
		t.Errorf("the browser reconnected %.0f ms after the stream ended; the last retry: was 4000 ms", delay)
	} else {
		t.Logf("reconnected %.0f ms after the stream ended (retry: 4000)", delay)
	}
	back := publish(`{"channel":"chat","data":"back"}`)
	state = waitPage(t, ctx, "the replay", fmt.Sprintf("sseDemo.received.length >= %d", seen+4), 10*time.Second)
	checkEvents(t, state, seen, []pageEvent{
		{"message", "away 1", away[0].ID},
		{"greeting", "away 2", away[1].ID},
		{"message", "away\n3", away[2].ID},
		{"message", "back", back.ID},
	})
	seen += 4

	// Cut 2: a config reload ends the stream; the hub and its history
	// survive, and the browser resumes after the stream's retry: 3000.
	loadCaddyfile(t, exampleSite(t, 2, lean))
	state = waitPage(t, ctx, "the stream to end on reload", "sseDemo.errors.length === 2", 10*time.Second)
	away = publishWhileAway(t, []string{
		`{"channel":"chat","data":"during reload 1"}`,
		`{"channel":"news","event":"update","data":"during reload 2"}`,
	})
	waitPage(t, ctx, "the browser to reconnect after the reload", "sseDemo.opens.length === 3", 15*time.Second)
	back = publish(`{"channel":"news","data":"back again"}`)
	state = waitPage(t, ctx, "the replay after the reload", fmt.Sprintf("sseDemo.received.length >= %d", seen+3), 10*time.Second)
	checkEvents(t, state, seen, []pageEvent{
		{"message", "during reload 1", away[0].ID},
		{"update", "during reload 2", away[1].ID},
		{"message", "back again", back.ID},
	})
	seen += 3

	// Cut 3: a short retry (100 ms, far below the 3 s the stream opened
	// with) brings the browser back at once; nothing was missed, so
	// nothing is replayed.
	fast := publish(`{"channel":"chat","data":"fast retry","retry":100}`)
	waitPage(t, ctx, "the fast retry event", fmt.Sprintf("sseDemo.received.length >= %d", seen+1), 10*time.Second)
	if status, body := adminRequest(t, http.MethodDelete, "/sse_hub/hubs/default/channels/chat", "", ""); status != http.StatusOK {
		t.Fatalf("closing chat: %d %s", status, body)
	}
	state = waitPage(t, ctx, "the browser to reconnect quickly", "sseDemo.opens.length === 4", 10*time.Second)
	if delay := state.Opens[3] - state.Errors[2]; delay > 2000 {
		t.Errorf("the browser reconnected %.0f ms after the stream ended; the last retry: was 100 ms", delay)
	} else {
		t.Logf("reconnected %.0f ms after the stream ended (retry: 100)", delay)
	}
	waitSubscribers(t, "default", "chat", 1)
	last := publish(`{"channel":"chat","data":"last"}`)
	state = waitPage(t, ctx, "the last event", fmt.Sprintf("sseDemo.received.length >= %d", seen+3), 10*time.Second)
	checkEvents(t, state, seen, []pageEvent{
		{"message", "fast retry", fast.ID},
		{"sse_hub.closed", `{"channel":"chat"}`, fast.ID},
		{"message", "last", last.ID},
	})
	if len(state.Errors) != 3 || len(state.Opens) != 4 {
		t.Errorf("the page saw %d errors and %d opens, want 3 and 4 (one per cut)", len(state.Errors), len(state.Opens))
	}
}

// publishWhileAway publishes events while the browser is disconnected: each
// must reach no subscriber, so it can only arrive through the replay.
func publishWhileAway(t *testing.T, events []string) []published {
	t.Helper()
	var out []published
	for _, e := range events {
		p := publishJSON(t, e)
		if p.Subscribers != 0 {
			t.Fatalf("%s reached %d subscribers: the browser was back before its retry delay was over", e, p.Subscribers)
		}
		out = append(out, p)
	}
	return out
}
