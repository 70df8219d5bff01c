package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// TestEndReasonsAreTheSameOnBothPaths ends a stream each way a test can
// cause, on the normal and the lean path, and checks that both count it
// under the same reason in caddy_sse_hub_streams_closed_total (and under
// no other). Shutdown (Caddy exits) and internal_error (a recovered panic)
// are covered by TestShutdownEndsStreamsPromptly (both paths) and the lean engine's panic test.
func TestEndReasonsAreTheSameOnBothPaths(t *testing.T) {
	cases := []struct {
		reason  lifecycle.EndReason
		options string
		// end opens a stream at path on hubName and makes it end.
		end func(t *testing.T, hubName, path string)
	}{
		{lifecycle.ClientGone, "", func(t *testing.T, hubName, path string) {
			s := subscribe(t, path+"/news", nil)
			waitSubscribers(t, hubName, "news", 1)
			s.close()
		}},
		{lifecycle.ClosedByHub, "", func(t *testing.T, hubName, path string) {
			s := subscribe(t, path+"/room-1", nil)
			waitSubscribers(t, hubName, "room-1", 1)
			if status, body := adminRequest(t, http.MethodDelete, "/sse_hub/hubs/"+hubName+"/channels/room-1", "", ""); status != http.StatusOK {
				t.Fatalf("closing the channel: %d %s", status, body)
			}
			s.expectEnd(t, 5*time.Second)
		}},
		{lifecycle.MaxLifetime, "max_lifetime 300ms", func(t *testing.T, hubName, path string) {
			subscribe(t, path+"/news", nil).expectEnd(t, 5*time.Second)
		}},
		{lifecycle.ReloadDrain, "reload_drain 100ms", func(t *testing.T, hubName, path string) {
			s := subscribe(t, path+"/news", nil)
			waitSubscribers(t, hubName, "news", 1)
			loadCaddyfile(t, endReasonsSite(hubName, "reload_drain 100ms\n\t\theartbeat 14s"))
			s.expectEnd(t, 5*time.Second)
		}},
		{lifecycle.SlowConsumer, "slow_consumer_grace 1s\n\t\tsubscriber_buffer 4\n\t\twrite_timeout 60s", func(t *testing.T, hubName, path string) {
			dialStuck(t, path+"/news")
			waitSubscribers(t, hubName, "news", 1)
			fillSocket(t, hubName, "news")
			waitSubscribers(t, hubName, "news", 0)
		}},
		{lifecycle.WriteError, "write_timeout 1s", func(t *testing.T, hubName, path string) {
			// On a latest channel the hub never cuts: the write timeout does.
			dialStuck(t, path+"/ticker")
			waitSubscribers(t, hubName, "ticker", 1)
			fillSocket(t, hubName, "ticker")
			waitSubscribers(t, hubName, "ticker", 0)
		}},
	}
	for _, c := range cases {
		for _, path := range []string{"/events", "/lean"} {
			pathLabel := map[string]string{"/events": "normal", "/lean": "lean"}[path]
			t.Run(string(c.reason)+"/"+pathLabel, func(t *testing.T) {
				hubName := "end-" + string(c.reason) + "-" + pathLabel
				loadCaddyfile(t, endReasonsSite(hubName, c.options))
				before := scrape(t)
				c.end(t, hubName, path)
				counted := func() map[lifecycle.EndReason]float64 {
					after := scrape(t)
					got := make(map[lifecycle.EndReason]float64)
					for _, r := range lifecycle.EndReasons {
						series := fmt.Sprintf(`caddy_sse_hub_streams_closed_total{hub=%q,path=%q,reason=%q}`, hubName, pathLabel, r)
						if n := after[series] - before[series]; n != 0 {
							got[r] = n
						}
					}
					return got
				}
				waitFor(t, "the stream's end to be counted", 10*time.Second, func() bool { return len(counted()) > 0 })
				if got := counted(); len(got) != 1 || got[c.reason] != 1 {
					t.Errorf("streams closed on the %s path: %v, want one %s", pathLabel, got, c.reason)
				}
			})
		}
	}
}

func endReasonsSite(hubName, options string) string {
	return leanSite(hubName, `		channel news
		channel ticker {
			slow_consumer latest
		}
		on_demand room-*
		`+options)
}

// fillSocket publishes 8 MiB to a channel, more than a loopback socket's
// largest send buffer (Linux's tcp_wmem grows it to 4 MiB) and the stuck
// client's 4 KiB receive buffer, so a client that does not read has the
// stream's write blocked.
func fillSocket(t *testing.T, hubName, channel string) {
	t.Helper()
	payload := strings.Repeat("f", 16<<10)
	for range 16 {
		lines := make([]string, 32)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"hub":%q,"channel":%q,"data":%q}`, hubName, channel, payload)
		}
		publishBatch(t, lines)
	}
}
