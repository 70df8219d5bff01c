package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// logLine is one JSON line of Caddy's log.
type logLine map[string]any

func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	data, _ := os.ReadFile(path)
	var lines []logLine
	for _, text := range strings.Split(string(data), "\n") {
		var l logLine
		if json.Unmarshal([]byte(text), &l) == nil && l["logger"] == "http.handlers.sse_hub" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestStreamLogs checks the connection log lines: opened and closed at
// debug with the same connection and request IDs, the close with its
// reason and duration; and limit refusals at warn, rate-limited.
func TestStreamLogs(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	loadCaddyfileWithGlobals(t, []string{`	log {
		output file ` + logFile + `
		level DEBUG
	}`}, `
http://`+siteAddr+` {
	sse_hub /events/* {
		hub logs
		max_subscribers 1
	}
}`)
	s := subscribe(t, "/events/news", nil)
	for range 5 {
		if status, _, _ := refused(t, "/events/news", nil); status != http.StatusServiceUnavailable {
			t.Fatalf("refusal: %d", status)
		}
	}
	s.close()

	var opened, closed logLine
	var warnings []logLine
	waitFor(t, "the stream's close to be logged", 10*time.Second, func() bool {
		opened, closed, warnings = nil, nil, nil
		for _, l := range readLog(t, logFile) {
			switch l["msg"] {
			case "stream opened":
				opened = l
			case "stream closed":
				closed = l
			case "subscriber refused by a limit":
				warnings = append(warnings, l)
			}
		}
		return closed != nil
	})
	if opened == nil || opened["level"] != "debug" || opened["hub"] != "logs" || opened["conn"] == nil || opened["request_id"] == nil {
		t.Errorf("stream opened line: %v", opened)
	}
	if closed["level"] != "debug" || closed["conn"] != opened["conn"] || closed["request_id"] != opened["request_id"] ||
		closed["reason"] != "client_gone" || closed["duration"] == nil {
		t.Errorf("stream closed line %v does not match the opened one %v", closed, opened)
	}
	// Five quick refusals: logged at most once a second, so fewer lines
	// than refusals (one, unless the machine took over a second for them).
	if len(warnings) == 0 || len(warnings) >= 5 || warnings[0]["level"] != "warn" || warnings[0]["reason"] != "max_subscribers" {
		t.Errorf("limit warnings: %v, want fewer than the 5 refusals (rate-limited), naming max_subscribers", warnings)
	}
}
