package integration

import (
	"net/http"
	"strings"
	"testing"
)

const globalHub = `	sse_hub {
		hub global {
			channel news
			history_size 5
		}
	}`

// TestGlobalHubOption defines a hub in the global option and serves it
// from a handler that only names it.
func TestGlobalHubOption(t *testing.T) {
	loadCaddyfileWithGlobals(t, []string{globalHub}, `
http://`+siteAddr+` {
	sse_hub /events/* {
		hub global
	}
}`)
	s := subscribe(t, "/events/news", nil)
	defer s.close()
	waitSubscribers(t, "global", "news", 1)
	p := publishJSON(t, `{"hub":"global","channel":"news","data":"hi"}`)
	if ev := s.next(t); ev.LastEventID != p.ID || ev.Data != "hi" {
		t.Fatalf("got %+v, want %s", ev, p.ID)
	}
	// Only news is declared, so no channel is created on demand.
	if _, status, _ := trySubscribe(t, "/events/other", nil); status != http.StatusNotFound {
		t.Errorf("undeclared channel: %d, want 404", status)
	}
}

// TestHubDefinedTwiceDifferently: the global option and a handler's short
// form define one hub with different settings; loading fails naming both.
func TestHubDefinedTwiceDifferently(t *testing.T) {
	loadCaddyfile(t, newsSite("untouched"))
	msg := loadRefused(t, []string{globalHub}, `
http://`+siteAddr+` {
	sse_hub /events/* {
		hub global
		channel chat
	}
}`)
	for _, want := range []string{`hub "global" is defined twice with different settings`, "the sse_hub app (global option)", "the sse_hub handler declaring channel chat"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not contain %q", msg, want)
		}
	}
	if _, status := getChannel(t, "untouched", "news"); status != http.StatusOK {
		t.Errorf("the running config's hub is gone after a refused load: %d", status)
	}
}
