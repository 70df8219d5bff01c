package integration

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/internal/faults"
	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// TestPanicInALeanWorkerLeavesCaddyServing makes a lean worker panic (as a
// bug would) while it serves one stream of a running Caddy: that stream
// ends, the panic is logged at error with its stack and counted, the other
// stream on the worker goes on, and Caddy keeps serving new streams on
// both paths and its admin API.
func TestPanicInALeanWorkerLeavesCaddyServing(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	loadCaddyfileWithGlobals(t, []string{`	log {
		output file ` + logFile + `
		level ERROR
	}`}, leanSite("panics", ""))
	const panicked = `caddy_sse_hub_panics_total{where="lean_worker"}`
	const ended = `caddy_sse_hub_streams_closed_total{hub="panics",path="lean",reason="internal_error"}`
	before := scrape(t)

	badConn, _, badBody := rawSubscribe(t, "/lean/news", nil)
	goodConn, _, goodBody := rawSubscribe(t, "/lean/news", nil)
	waitSubscribers(t, "panics", "news", 2)
	badPeer := badConn.LocalAddr().String()
	var once sync.Once
	inject := func(nc net.Conn) {
		if nc.RemoteAddr().String() == badPeer {
			once.Do(func() { panic("injected into a lean worker by TestPanicInALeanWorkerLeavesCaddyServing") })
		}
	}
	faults.LeanServe.Store(&inject)
	t.Cleanup(func() { faults.LeanServe.Store(nil) })

	good := leanEvents(goodBody)
	first := publishJSON(t, `{"hub":"panics","channel":"news","data":"one"}`)
	// The stream the worker panicked on ends: its connection is closed.
	_ = badConn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := readToEOF(badBody)
	if err != nil {
		t.Fatalf("the panicked stream did not end: %v (read %q)", err, rest)
	}
	if strings.Contains(rest, "data: one") {
		t.Errorf("the panicked stream got the event it panicked on: %q", rest)
	}
	waitSubscribers(t, "panics", "news", 1)
	second := publishJSON(t, `{"hub":"panics","channel":"news","data":"two"}`)
	for _, want := range []published{first, second} {
		select {
		case ev := <-good:
			if ev.LastEventID != want.ID {
				t.Fatalf("the other stream on the worker got %+v, want id %s", ev, want.ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the other stream on the worker did not get event %s", want.ID)
		}
	}

	waitFor(t, "the panic and the stream's end to be counted", 10*time.Second, func() bool {
		after := scrape(t)
		return after[panicked]-before[panicked] == 1 && after[ended]-before[ended] == 1
	})
	var line logLine
	waitFor(t, "the panic to be logged", 10*time.Second, func() bool {
		for _, l := range readLog(t, logFile) {
			if l["msg"] != nil && strings.HasPrefix(l["msg"].(string), "recovered from a panic") {
				line = l
				return true
			}
		}
		return false
	})
	stack, _ := line["stack"].(string)
	if line["level"] != "error" || line["where"] != "lean_worker" || !strings.Contains(stack, "TestPanicInALeanWorkerLeavesCaddyServing") {
		t.Errorf("panic log line %v: want level error, where lean_worker, and the stack through the injecting test", line)
	}

	// Caddy keeps serving: new streams on both paths, and publishes.
	fresh := subscribe(t, "/lean/news", nil)
	normal := subscribe(t, "/events/news", nil)
	third := publishJSON(t, `{"hub":"panics","channel":"news","data":"three"}`)
	for _, s := range []*stream{fresh, normal} {
		if ev := s.next(t); ev.LastEventID != third.ID || ev.Data != "three" {
			t.Errorf("a stream opened after the panic got %+v, want %s", ev, third.ID)
		}
	}
	fresh.close()
	normal.close()
	goodConn.Close()
}

// leanEvents parses a raw lean stream's body into events.
func leanEvents(body *bufio.Reader) <-chan ssetest.Event {
	events := make(chan ssetest.Event, 16)
	go func() {
		defer close(events)
		p := ssetest.NewParser(body)
		for {
			ev, err := p.Next()
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	return events
}

// readToEOF reads a body until the server closes the connection.
func readToEOF(body *bufio.Reader) (string, error) {
	var got strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			if err.Error() == "EOF" {
				return got.String(), nil
			}
			return got.String(), err
		}
	}
}
