package integration

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// slowSite's write_timeout of 3s is what a stuck client would cost the
// others if writes were not independent.
func slowSite(hub string) string {
	return `
http://` + siteAddr + ` {
	sse_hub /events* {
		hub ` + hub + `
		channel news {
			history_size 100
		}
		channel ticker {
			history_size 100
			slow_consumer latest
		}
		subscriber_buffer 3
		write_timeout 3s
		max_subscribers_per_ip unlimited
	}
}`
}

// batchTo publishes n events to one channel in one atomic batch, so a
// stream finds all of them waiting at once: 4 or more is over a buffer of 3.
func batchTo(t *testing.T, hub, channel string, n int) []published {
	t.Helper()
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"hub":%q,"channel":%q,"data":"%d"}`, hub, channel, i)
	}
	return publishBatch(t, lines)
}

func TestSlowConsumerDisconnectLosesNothing(t *testing.T) {
	loadCaddyfile(t, slowSite("slow1"))
	s := subscribe(t, "/events/news", nil)
	first := publishJSON(t, `{"hub":"slow1","channel":"news","data":"first"}`)
	if ev := s.next(t); ev.LastEventID != first.ID {
		t.Fatalf("got %+v", ev)
	}
	burst := batchTo(t, "slow1", "news", 10)
	if _, evs := s.expectEnd(t, 5*time.Second); len(evs) != 0 {
		t.Errorf("a disconnected slow consumer got %d events first", len(evs))
	}
	// It resumes with its last ID and replays the whole burst from history.
	resumed := subscribe(t, "/events/news", http.Header{"Last-Event-Id": {first.ID}})
	for i, ev := range resumed.nextN(t, len(burst)) {
		if ev.LastEventID != burst[i].ID {
			t.Fatalf("resumed event %d = %q, want %q", i, ev.LastEventID, burst[i].ID)
		}
	}
}

func TestSlowConsumerLatestSkipsAndTellsTheClient(t *testing.T) {
	loadCaddyfile(t, slowSite("slow2"))
	s := subscribe(t, "/events/ticker", nil)
	burst := batchTo(t, "slow2", "ticker", 10)
	gap := s.next(t)
	if gap.Type != "sse_hub.gap" || !strings.Contains(gap.Data, `"reason":"skipped"`) || !strings.Contains(gap.Data, `"channel":"ticker"`) {
		t.Fatalf("first event %+v, want a skipped gap notice for ticker", gap)
	}
	if ev := s.next(t); ev.LastEventID != burst[9].ID {
		t.Errorf("after skipping got %q, want the newest %q", ev.LastEventID, burst[9].ID)
	}
	next := publishJSON(t, `{"hub":"slow2","channel":"ticker","data":"live"}`)
	if ev := s.next(t); ev.LastEventID != next.ID {
		t.Errorf("then got %+v, want the live event", ev)
	}
}

// TestOneStuckClientDoesNotDelayOthers has a client that never reads while
// events big enough to fill its socket buffers are published: the healthy
// subscriber keeps getting each event promptly, and the stuck one is
// dropped by the write deadline.
// bigEventLatencies publishes n events of 256 KiB to hubName's news one
// at a time and returns, sorted, how long each took to reach s.
func bigEventLatencies(t *testing.T, hubName string, s *stream, n int) []time.Duration {
	t.Helper()
	payload := strings.Repeat("x", 256<<10)
	var latencies []time.Duration
	for i := range n {
		start := time.Now()
		p := publishJSON(t, `{"hub":"`+hubName+`","channel":"news","data":"`+payload+`"}`)
		if ev := s.next(t); ev.LastEventID != p.ID {
			t.Fatalf("event %d: got %q, want %q", i, ev.LastEventID, p.ID)
		}
		latencies = append(latencies, time.Since(start))
	}
	slices.Sort(latencies)
	return latencies
}

func TestOneStuckClientDoesNotDelayOthers(t *testing.T) {
	loadCaddyfile(t, slowSite("slow3"))
	dialStuck(t, "/events/news")
	healthy := subscribe(t, "/events/news", nil)
	waitSubscribers(t, "slow3", "news", 2)

	latencies := bigEventLatencies(t, "slow3", healthy, 60) // 15 MiB: far more than the stuck socket holds
	// With head-of-line blocking the healthy client would wait out the
	// stuck one's 3s write deadline; without it each event takes a few ms.
	if worst := latencies[len(latencies)-1]; worst > 1500*time.Millisecond {
		t.Errorf("slowest publish-to-receive was %v (median %v): the stuck client delayed the healthy one", worst, latencies[len(latencies)/2])
	}
	t.Logf("publish-to-receive of 256 KiB events with a stuck client present: median %v, max %v", latencies[len(latencies)/2], latencies[len(latencies)-1])
	waitSubscribers(t, "slow3", "news", 1) // the write deadline dropped the stuck client
}
