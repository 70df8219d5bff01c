package integration

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// TestLatestBacklogAgedOut is the crash of issue 15: on a "latest" channel
// a subscriber's unread events all age out of history (and are swept)
// while its write is blocked; when it reads again, the stream must go on
// (a gap notice, then the next event), on both paths, and Caddy with it.
func TestLatestBacklogAgedOut(t *testing.T) {
	for _, path := range []string{"/events", "/lean"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			hubName := "aged-out" + strings.ReplaceAll(path, "/", "-")
			loadCaddyfile(t, leanSite(hubName, `
		channel ticker {
			history_max_age 1s
			slow_consumer latest
		}
		write_timeout 60s`))
			stuck := dialStuck(t, path+"/ticker")
			waitSubscribers(t, hubName, "ticker", 1)
			// Unread events fill the socket buffers and block the stream's write.
			fillSocket(t, hubName, "ticker")
			// The janitor sweeps them out of history (1s max age).
			waitFor(t, "the unread events to be swept from history", 10*time.Second, func() bool {
				return hubTotals(t, hubName).HistoryBytes == 0
			})

			// The stuck client reads at last.
			if err := stuck.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(stuck), nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("the stuck client's response: %v", err)
			}
			events := make(chan ssetest.Event, 1024)
			go func() {
				defer close(events)
				p := ssetest.NewParser(resp.Body)
				for {
					ev, err := p.Next()
					if err != nil {
						return
					}
					events <- ev
				}
			}()
			next := publishJSON(t, fmt.Sprintf(`{"hub":%q,"channel":"ticker","data":"after"}`, hubName))
			deadline := time.After(20 * time.Second)
			for got := false; !got; {
				select {
				case ev, ok := <-events:
					if !ok {
						t.Fatal("the stream ended instead of going on after its backlog aged out")
					}
					got = ev.LastEventID == next.ID && ev.Data == "after"
					if ev.Type != "message" && ev.Type != hub.GapEvent {
						t.Fatalf("unexpected event %+v", ev)
					}
				case <-deadline:
					t.Fatal("the stuck client never got the event published after its backlog aged out")
				}
			}
		})
	}
}

// hubStats is the part of a hub's admin totals the tests read.
type hubStats struct {
	LeanSubscribers int    `json:"lean_subscribers"`
	HistoryBytes    int64  `json:"history_bytes"`
	SlowDisconnects uint64 `json:"slow_disconnects"`
}

func hubTotals(t *testing.T, hubName string) hubStats {
	t.Helper()
	status, body := adminRequest(t, http.MethodGet, "/sse_hub/hubs/"+hubName, "", "")
	if status != http.StatusOK {
		t.Fatalf("hub %s: %d %s", hubName, status, body)
	}
	var info struct{ Totals hubStats }
	mustUnmarshal(t, body, &info)
	return info.Totals
}
