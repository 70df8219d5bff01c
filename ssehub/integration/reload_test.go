package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

func reloadSite(heartbeat string) string {
	return `
http://` + siteAddr + ` {
	sse_hub /events/* {
		hub reload
		channel news
		heartbeat ` + heartbeat + `
	}
}`
}

// TestReloadKeepsHistoryAndIDsAndEndsOldStreams reloads the config while a
// stream is open: the stream ends within a second, and a client resuming
// with its Last-Event-ID gets exactly what was published meanwhile, with
// IDs that keep increasing.
func TestReloadKeepsHistoryAndIDsAndEndsOldStreams(t *testing.T) {
	loadCaddyfile(t, reloadSite("15s"))
	s := subscribe(t, "/events/news", nil)
	first := publishJSON(t, `{"hub":"reload","channel":"news","data":"before reload"}`)
	if ev := s.next(t); ev.LastEventID != first.ID {
		t.Fatalf("got %+v, want %s", ev, first.ID)
	}

	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		loadCaddyfile(t, reloadSite("20s"))
	}()
	took, extra := s.expectEnd(t, 5*time.Second)
	// The drain window (1s) counts from the moment the new config is live,
	// which the reload itself takes a moment to reach.
	if took > 1500*time.Millisecond {
		t.Errorf("old stream ended %v after the reload began, want within the 1s drain window (plus the reload's own time)", took)
	}
	if len(extra) != 0 {
		t.Errorf("old stream got %d unexpected events before ending", len(extra))
	}
	select {
	case <-reloaded:
	case <-time.After(10 * time.Second):
		t.Fatal("reload did not finish: an open stream is holding the old config")
	}

	var missed []published
	for i := range 3 {
		missed = append(missed, publishJSON(t, fmt.Sprintf(`{"hub":"reload","channel":"news","data":"after %d"}`, i)))
	}
	if prev, _ := hub.ParseID(first.ID); !prev.Less(mustID(t, missed[0].ID)) {
		t.Errorf("ID after reload %s is not after %s", missed[0].ID, first.ID)
	}
	info, _ := getChannel(t, "reload", "news")
	if info.Published != 4 || info.HistoryLength != 4 {
		t.Errorf("after reload the channel has published=%d history=%d, want 4 and 4 (history kept)", info.Published, info.HistoryLength)
	}

	resumed := subscribe(t, "/events/news", http.Header{"Last-Event-Id": {first.ID}})
	for i, ev := range resumed.nextN(t, 3) {
		if ev.LastEventID != missed[i].ID || ev.Data != fmt.Sprintf("after %d", i) {
			t.Errorf("resumed event %d: got %q %q, want %q", i, ev.LastEventID, ev.Data, missed[i].ID)
		}
	}
}

func mustID(t *testing.T, s string) hub.ID {
	t.Helper()
	id, err := hub.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRemovingAHubFromTheConfigEndsItsStreams checks that a hub that no
// config uses any more is closed, not leaked.
func TestRemovingAHubFromTheConfigEndsItsStreams(t *testing.T) {
	loadCaddyfile(t, reloadSite("15s"))
	s := subscribe(t, "/events/news", nil)
	loadCaddyfile(t, `
http://`+siteAddr+` {
	respond "no hub here"
}`)
	s.expectEnd(t, 5*time.Second)
	status, _ := adminRequest(t, http.MethodGet, "/sse_hub/hubs/reload", "", "")
	if status != http.StatusNotFound {
		t.Errorf("hub still listed after its config was removed: %d", status)
	}
}
