package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// limitsSite serves channels a, b and c of a hub of its own, so streams of
// an earlier test that are still closing cannot count against its limits.
func limitsSite(hub, extra string) string {
	return `
http://` + siteAddr + ` {
	sse_hub /events* {
		hub ` + hub + `
		channel a
		channel b
		channel c
		retry 2s
` + extra + `
	}
}`
}

// refused opens a stream that must be refused and returns the response.
func refused(t *testing.T, path string, header http.Header) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, siteURL+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("GET %s was accepted, want a refusal", path)
	}
	return resp.StatusCode, readAll(resp), resp.Header
}

func TestConnectionLimitsAnswerWithStatusAndRetryAfter(t *testing.T) {
	loadCaddyfile(t, limitsSite("TestConnectionLimitsAnswerWithStatusAndRetryAfter", `
		max_subscribers 4
		max_subscribers_per_channel 2
		max_subscribers_per_ip 3
		max_channels_per_subscriber 2`))

	subscribe(t, "/events/a", nil)
	subscribe(t, "/events/a", nil)
	status, body, hdr := refused(t, "/events/a", nil)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") != "2" || !strings.Contains(body, "max_subscribers_per_channel") {
		t.Errorf("third on channel a: %d Retry-After=%q %q, want 503, 2, naming max_subscribers_per_channel", status, hdr.Get("Retry-After"), body)
	}
	subscribe(t, "/events/b", nil)
	// All test clients share 127.0.0.1: that is the per-IP limit of 3.
	status, body, hdr = refused(t, "/events/c", nil)
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "2" || !strings.Contains(body, "max_subscribers_per_ip") {
		t.Errorf("fourth from one IP: %d Retry-After=%q %q, want 429, 2, naming max_subscribers_per_ip", status, hdr.Get("Retry-After"), body)
	}

	status, body, _ = refused(t, "/events?channel=a,b,c", nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "max_channels_per_subscriber") {
		t.Errorf("three channels on one stream: %d %q, want 400 naming max_channels_per_subscriber", status, body)
	}
	status, body, _ = refused(t, "/events/b", http.Header{"Last-Event-Id": {strings.Repeat("1", 300)}})
	if status != http.StatusBadRequest || !strings.Contains(body, "Last-Event-ID is 300 bytes") {
		t.Errorf("300-byte Last-Event-ID: %d %q, want 400", status, body)
	}
}

func TestHubSubscriberLimit(t *testing.T) {
	loadCaddyfile(t, limitsSite("TestHubSubscriberLimit", `
		max_subscribers 1`))
	subscribe(t, "/events/a", nil)
	status, body, hdr := refused(t, "/events/b", nil)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(body, "max_subscribers)") {
		t.Errorf("second subscriber of a hub with room for one: %d Retry-After=%q %q", status, hdr.Get("Retry-After"), body)
	}
}

// TestMemoryWatermarkRefusesNewSubscribersAndPublishes: over max_heap,
// new subscribers and every way of publishing get 503 with Retry-After,
// and nothing of a refused publish is kept.
func TestMemoryWatermarkRefusesNewSubscribersAndPublishes(t *testing.T) {
	const hubName = "TestMemoryWatermark"
	// Any running Caddy holds more than 1 KiB of heap.
	loadCaddyfile(t, limitsSite(hubName, `
		allow_publish *
		max_heap 1KiB`))
	status, body, hdr := refused(t, "/events/a", nil)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(body, "max_heap_bytes") {
		t.Errorf("over the heap watermark: %d Retry-After=%q %q, want 503 naming max_heap_bytes", status, hdr.Get("Retry-After"), body)
	}
	publishes := []struct {
		name, url, contentType, body string
	}{
		{"admin JSON", adminURL + "/sse_hub/publish", "application/json", `{"hub":"` + hubName + `","channel":"a","data":"x"}`},
		{"admin raw", adminURL + "/sse_hub/publish/a?hub=" + hubName, "text/plain", "x"},
		{"route POST", siteURL + "/events/a", "text/plain", "x"},
	}
	for _, p := range publishes {
		resp, err := adminClient.Post(p.url, p.contentType, strings.NewReader(p.body))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "max_heap_bytes") {
			t.Errorf("%s over the heap watermark: %d Retry-After=%q %q, want 503 naming max_heap_bytes", p.name, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if info, _ := getChannel(t, hubName, "a"); info.Published != 0 {
		t.Errorf("refused publishes published %d events", info.Published)
	}
	loadCaddyfile(t, limitsSite(hubName, `
		max_heap 64GiB`))
	subscribe(t, "/events/a", nil)
	publishJSON(t, `{"hub":"`+hubName+`","channel":"a","data":"x"}`)
}

func TestPublishSizeLimits(t *testing.T) {
	loadCaddyfile(t, limitsSite("limits", `
		max_event_bytes 100
		max_batch 3
		max_publish_bytes 2KiB`))
	cases := []struct {
		name, contentType, body, reason string
	}{
		{"event over max_event_bytes", "application/json", `{"hub":"limits","channel":"a","data":"` + strings.Repeat("x", 101) + `"}`, "max_event_bytes"},
		{"batch over max_batch", "application/x-ndjson", strings.Repeat(`{"hub":"limits","channel":"a","data":"x"}`+"\n", 4), "max_batch"},
		{"body over max_publish_bytes", "application/x-ndjson", strings.Repeat(`{"hub":"limits","channel":"a","data":"`+strings.Repeat("x", 90)+`"}`+"\n", 20), "max_publish_bytes"},
	}
	for _, c := range cases {
		status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish", c.contentType, c.body)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, c.reason) {
			t.Errorf("%s: %d %s, want 413 naming %s", c.name, status, body, c.reason)
		}
	}
	status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish/a?hub=limits", "text/plain", strings.Repeat("x", 101))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("raw body over max_event_bytes: %d %s", status, body)
	}
	// 17 MiB is over every hub's limit: refused while reading.
	status, _ = adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json", strings.Repeat(" ", 17<<20))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("17 MiB body: %d, want 413", status)
	}
	if info, _ := getChannel(t, "limits", "a"); info.Published != 0 {
		t.Errorf("refused publishes published %d events", info.Published)
	}
}
