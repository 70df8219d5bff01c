package integration

import (
	"fmt"
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

// A burst far over subscriber_buffer, read at once, is no reason to cut
// or skip (issue 15): on both policies the whole burst arrives in order
// and the stream stays open. Cutting and skipping after the grace are
// tested in the hub package (with a fake clock) and in burst_test.go.
func TestBurstOverTheBufferIsNotSlow(t *testing.T) {
	loadCaddyfile(t, slowSite("slow1"))
	for _, channel := range []string{"news", "ticker"} {
		s := subscribe(t, "/events/"+channel, nil)
		waitSubscribers(t, "slow1", channel, 1)
		burst := batchTo(t, "slow1", channel, 10)
		for i, ev := range s.nextN(t, len(burst)) {
			if ev.LastEventID != burst[i].ID {
				t.Fatalf("%s: event %d = %q (%s), want %q", channel, i, ev.LastEventID, ev.Type, burst[i].ID)
			}
		}
		next := publishJSON(t, `{"hub":"slow1","channel":"`+channel+`","data":"live"}`)
		if ev := s.next(t); ev.LastEventID != next.ID {
			t.Errorf("%s: then got %+v, want the live event", channel, ev)
		}
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
