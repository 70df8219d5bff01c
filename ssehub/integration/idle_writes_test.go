package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestStuckClientIsDroppedAtCaddysWriteIdleTimeout: a stream takes over
// Caddy's write idle timeout while it runs (no deadline set and cleared
// around each write; ssehub/idle_writes.go). A client that stops reading
// must still be dropped once a write stalls for write_idle (1s here): not
// at the stream's own write_timeout (30s), and on a latest channel the hub
// never cuts it as slow. A reader that keeps up, on HTTP/1.1 and on HTTP/2,
// lives on through quiet spells longer than write_idle.
func TestStuckClientIsDroppedAtCaddysWriteIdleTimeout(t *testing.T) {
	const hubName = "idlewrites"
	route := `
	sse_hub /events/* {
		hub ` + hubName + `
		channel ticker {
			slow_consumer latest
		}
		write_timeout 30s
		heartbeat 1h
	}`
	loadCaddyfileWithGlobals(t, []string{`	servers {
		timeouts {
			write_idle 1s
		}
	}`}, `
http://`+siteAddr+` {`+route+`
}

https://`+tlsSiteAddr+` {
	tls internal`+route+`
}`)
	client := tlsClient(t)
	waitForTLS(t, client)
	h1 := subscribe(t, "/events/ticker", nil)
	h2, status, body := openStream(t, client, "https://"+tlsSiteAddr+"/events/ticker", nil)
	if status != http.StatusOK || h2.resp.ProtoMajor != 2 {
		t.Fatalf("HTTP/2 stream: %d %s (protocol %s)", status, body, h2.resp.Proto)
	}
	dialStuck(t, "/events/ticker")
	waitSubscribers(t, hubName, "ticker", 3)

	before := scrape(t)
	fillSocket(t, hubName, "ticker")
	filled := time.Now()
	waitFor(t, "the stuck client dropped", 10*time.Second, func() bool {
		info, status := getChannel(t, hubName, "ticker")
		return status == http.StatusOK && info.Subscribers == 2
	})
	t.Logf("the stuck client was dropped %v after 8 MiB were published", time.Since(filled).Round(time.Millisecond))
	series := fmt.Sprintf(`caddy_sse_hub_streams_closed_total{hub=%q,path="normal",reason="write_error"}`, hubName)
	waitFor(t, "the drop counted as a write error", 5*time.Second, func() bool {
		return scrape(t)[series]-before[series] == 1
	})

	// Once the readers have drained the 8 MiB (a latest channel may skip
	// some of it for them too), quiet for three times write_idle, they
	// still get the next event.
	readers := map[string]*stream{"HTTP/1.1": h1, "HTTP/2": h2}
	marker := publishJSON(t, `{"hub":"`+hubName+`","channel":"ticker","data":"drained"}`)
	for _, s := range readers {
		readUntil(t, s, marker.ID)
	}
	quiet := time.NewTimer(3 * time.Second)
	<-quiet.C
	p := publishJSON(t, `{"hub":"`+hubName+`","channel":"ticker","data":"after the quiet"}`)
	for name, s := range readers {
		if ev := s.next(t); ev.LastEventID != p.ID {
			t.Errorf("%s reader got %s after the quiet spell, want %s", name, ev.LastEventID, p.ID)
		}
	}
}

// readUntil reads s up to and including the event with the given id.
func readUntil(t *testing.T, s *stream, id string) {
	t.Helper()
	for s.next(t).LastEventID != id {
	}
}
