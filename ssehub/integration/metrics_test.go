package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape reads the admin /metrics endpoint into series -> value, keyed by
// the series as Prometheus writes it: name{label="value",...}.
func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	status, body := adminRequest(t, http.MethodGet, "/metrics", "", "")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	series := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series
}

// expectMetrics checks exact values: gauges as they are, counters as
// changes from base (counters live as long as the process, and earlier
// tests count too).
func expectMetrics(t *testing.T, base, got, want map[string]float64) {
	t.Helper()
	for name, v := range want {
		g, ok := got[name]
		if isCounter(name) {
			g -= base[name]
		}
		if !ok || g != v {
			t.Errorf("%s = %v (present: %v), want %v", name, g, ok, v)
		}
	}
}

func isCounter(series string) bool {
	name, _, _ := strings.Cut(series, "{")
	return strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_count") || strings.HasSuffix(name, "_sum")
}

func metricsSite(heartbeat string) string {
	return `
http://` + siteAddr + ` {
	sse_hub /events* {
		hub m
		channel news {
			history_size 100
		}
		on_demand room-*
		max_subscribers_per_channel 2
		subscriber_buffer 3
		reload_drain 10ms
		heartbeat ` + heartbeat + `
	}
}`
}

// TestMetricsScenarioAndReload drives connects, publishes, a refused
// connection, slow consumers and a replay, checks exact values at
// /metrics, then reloads and checks the counters kept their values.
func TestMetricsScenarioAndReload(t *testing.T) {
	loadCaddyfile(t, metricsSite("15s"))
	base := scrape(t)
	a := subscribe(t, "/events/news", nil)
	b := subscribe(t, "/events/news", nil)
	if status, _, _ := refused(t, "/events/news", nil); status != http.StatusServiceUnavailable {
		t.Fatalf("third subscriber: %d", status)
	}
	if status, _, _ := refused(t, "/events/bad%20name", nil); status != http.StatusBadRequest {
		t.Fatalf("bad name: %d", status)
	}
	var frames int // bytes of every event written to a subscriber
	first := publishJSON(t, `{"hub":"m","channel":"news","data":"one"}`)
	second := publishJSON(t, `{"hub":"m","channel":"news","data":"two"}`)
	for _, s := range []*stream{a, b} {
		s.nextN(t, 2)
	}
	frames += 2 * (len("id: "+first.ID+"\ndata: one\n\n") + len("id: "+second.ID+"\ndata: two\n\n"))
	if status, _ := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json", `{"hub":"m","channel":"news","event":"a\nb","data":"x"}`); status != http.StatusBadRequest {
		t.Fatalf("bad publish: %d", status)
	}
	if status, _ := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json", `{"hub":"m","channel":"sports","data":"x"}`); status != http.StatusNotFound {
		t.Fatalf("publish to a missing channel: %d", status)
	}
	// A hub that does not exist is counted without its name, so made-up
	// names cannot grow the label set.
	if status, _ := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json", `{"hub":"made-up","channel":"news","data":"x"}`); status != http.StatusNotFound {
		t.Fatalf("publish to a missing hub: %d", status)
	}

	// A burst of 10 is over both streams' buffer of 3, but both read it
	// at once: a burst alone never makes a slow consumer.
	burst := batchTo(t, "m", "news", 10)
	for _, s := range []*stream{a, b} {
		s.nextN(t, 10)
		s.close()
	}
	for i, p := range burst {
		frames += 2 * len(fmt.Sprintf("id: %s\ndata: %d\n\n", p.ID, i))
	}
	waitSubscribers(t, "m", "news", 0)
	// One resumes from its first event and replays the other 11.
	c := subscribe(t, "/events/news", http.Header{"Last-Event-Id": {first.ID}})
	c.nextN(t, 11)
	frames += len("id: " + second.ID + "\ndata: two\n\n")
	for i, p := range burst {
		frames += len(fmt.Sprintf("id: %s\ndata: %d\n\n", p.ID, i))
	}
	// An on-demand channel, whose series must not appear.
	subscribe(t, "/events/room-1", nil)

	want := map[string]float64{
		`caddy_sse_hub_subscribers{hub="m"}`:                                                     2,
		`caddy_sse_hub_channel_subscribers{channel="news",hub="m"}`:                              1,
		`caddy_sse_hub_channels{hub="m",kind="declared"}`:                                        1,
		`caddy_sse_hub_channels{hub="m",kind="on_demand"}`:                                       1,
		`caddy_sse_hub_channel_history_events{channel="news",hub="m"}`:                           12,
		`caddy_sse_hub_history_events{hub="m"}`:                                                  12,
		`caddy_sse_hub_connections_accepted_total{hub="m"}`:                                      4,
		`caddy_sse_hub_connections_rejected_total{hub="m",reason="max_subscribers_per_channel"}`: 1,
		`caddy_sse_hub_connections_rejected_total{hub="m",reason="bad_request"}`:                 1,
		`caddy_sse_hub_events_published_total{hub="m"}`:                                          12,
		`caddy_sse_hub_events_delivered_total{hub="m"}`:                                          35,
		`caddy_sse_hub_events_replayed_total{hub="m"}`:                                           11,
		`caddy_sse_hub_bytes_written_total{hub="m"}`:                                             float64(frames),
		`caddy_sse_hub_slow_consumer_actions_total{hub="m",policy="disconnect"}`:                 0,
		`caddy_sse_hub_slow_consumer_actions_total{hub="m",policy="latest"}`:                     0,
		`caddy_sse_hub_gap_events_total{hub="m",reason="expired"}`:                               0,
		`caddy_sse_hub_delivery_delay_seconds_count{hub="m"}`:                                    24,
		`caddy_sse_hub_publish_errors_total{hub="m",reason="bad_request"}`:                       1,
		`caddy_sse_hub_publish_errors_total{hub="m",reason="not_found"}`:                         1,
		`caddy_sse_hub_publish_errors_total{hub="",reason="not_found"}`:                          1,
	}
	before := scrape(t)
	expectMetrics(t, base, before, want)
	for series := range before {
		if strings.Contains(series, `channel="room-1"`) {
			t.Errorf("an on-demand channel has its own series: %s", series)
		}
	}

	// After a reload, counters keep their values and gauges are right.
	loadCaddyfile(t, metricsSite("20s"))
	waitSubscribers(t, "m", "news", 0)
	subscribe(t, "/events/news", nil)
	want[`caddy_sse_hub_subscribers{hub="m"}`] = 1
	want[`caddy_sse_hub_connections_accepted_total{hub="m"}`] = 5
	delete(want, `caddy_sse_hub_channels{hub="m",kind="on_demand"}`) // room-1 may be swept once idle
	after := scrape(t)
	expectMetrics(t, base, after, want)
}

// TestMetricLabelsStayBounded uses 10,000 on-demand channels and checks
// the number of series does not grow with them.
func TestMetricLabelsStayBounded(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events/* {
		hub labels
		channel news
		on_demand room-*
		max_on_demand_channels 20000
	}
}`)
	count := func() int {
		n := 0
		for series := range scrape(t) {
			if strings.Contains(series, `hub="labels"`) {
				n++
			}
		}
		return n
	}
	publishJSON(t, `{"hub":"labels","channel":"room-first","data":"x"}`)
	base := count()
	lines := make([]string, 10000)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"hub":"labels","channel":"room-%d","data":"x"}`, i)
	}
	publishBatch(t, lines)
	if info, _ := getChannel(t, "labels", "room-9999"); info.Published != 1 {
		t.Fatalf("room-9999 was not created: %+v", info)
	}
	if n := count(); n != base {
		t.Errorf("series for the hub went from %d to %d with 10,000 on-demand channels", base, n)
	}
}

// TestAccessLogShowsStreams checks Caddy's access log records an SSE
// request with its duration and bytes.
func TestAccessLogShowsStreams(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "access.log")
	loadCaddyfile(t, `
http://`+siteAddr+` {
	log {
		output file `+logFile+`
	}
	sse_hub /events/* {
		hub accesslog
	}
}`)
	s := subscribe(t, "/events/news", nil)
	p := publishJSON(t, `{"hub":"accesslog","channel":"news","data":"logged"}`)
	s.next(t)
	s.close()
	var entry struct {
		Request  struct{ URI string } `json:"request"`
		Duration float64              `json:"duration"`
		Size     int                  `json:"size"`
		Status   int                  `json:"status"`
	}
	waitFor(t, "the access log line for the stream", 10*time.Second, func() bool {
		data, _ := os.ReadFile(logFile)
		for _, line := range strings.Split(string(data), "\n") {
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Request.URI == "/events/news" {
				return true
			}
		}
		return false
	})
	wantSize := len("retry: 3000\n\n") + len("id: "+p.ID+"\ndata: logged\n\n")
	if entry.Status != http.StatusOK || entry.Size != wantSize || entry.Duration <= 0 {
		t.Errorf("access log: status %d size %d duration %v, want 200, %d bytes, a duration", entry.Status, entry.Size, entry.Duration, wantSize)
	}
}
