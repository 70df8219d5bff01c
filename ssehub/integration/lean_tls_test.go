package integration

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// dialStuckTLS opens an HTTP/1.1-over-TLS stream on the lean route through
// a 4 KiB receive buffer and reads nothing after the handshake.
func dialStuckTLS(t *testing.T, roots *tls.Config, path string) *tls.Conn {
	t.Helper()
	cfg := roots.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.DialWithDialer(smallBufferDialer(), "tcp", tlsSiteAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, tlsSiteAddr); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestLeanTLSClientThatPausesReadingCatchesUp: over TLS the worker writes
// only what the send buffer has room for, measuring the room only when its
// credit runs out. A client that reads nothing while 8 MiB is published
// (far more than the sockets hold), then reads through a 4 KiB receive
// buffer, gets every event in order: each time the socket fills, the rest
// waits and goes out as room returns. A client that never reads (on a
// route with a short write_timeout) is dropped, and its connection closed.
func TestLeanTLSClientThatPausesReadingCatchesUp(t *testing.T) {
	const hubName = "leantlspause"
	loadCaddyfile(t, `
http://`+siteAddr+` {
	respond /text "ok"
}

https://`+tlsSiteAddr+` {
	tls internal
	respond /text "ok"
	sse_hub /lean/* {
		hub `+hubName+`
		lean
		channel news
		subscriber_buffer_bytes 64MB
		# Long enough for the publishing below under -race on a busy
		# machine: the paused client must not be dropped.
		write_timeout 60s
		heartbeat 1h
		max_subscribers_per_ip unlimited
	}
	sse_hub /short/* {
		hub `+hubName+`-short
		lean
		channel news
		subscriber_buffer_bytes 64MB
		write_timeout 1s
		heartbeat 1h
	}
}`)
	client := tlsClient(t)
	waitForTLS(t, client)
	roots := client.Transport.(*http.Transport).TLSClientConfig
	paused := dialStuckTLS(t, roots, "/lean/news")
	stuck := dialStuckTLS(t, roots, "/short/news")
	waitSubscribers(t, hubName, "news", 1)
	waitSubscribers(t, hubName+"-short", "news", 1)

	ids := publishPauseLoad(t, hubName, hubName+"-short")
	took := readLeanInOrder(t, paused, ids)
	t.Logf("%d MiB read over TLS through a 4 KiB receive buffer in %v", len(ids)>>4, took)

	// The client that never read is dropped once its write stayed blocked
	// for write_timeout, and its connection closed.
	waitSubscribers(t, hubName+"-short", "news", 0)
	_ = stuck.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := io.Copy(io.Discard, stuck); err != nil {
		t.Errorf("the stuck TLS client's connection is still open after it was dropped (read %d bytes): %v", n, err)
	}
	if p := publishJSON(t, `{"hub":"`+hubName+`","channel":"news","data":"still fine"}`); p.Subscribers != 1 {
		t.Errorf("published to %d subscribers after the drop, want 1", p.Subscribers)
	}
}
