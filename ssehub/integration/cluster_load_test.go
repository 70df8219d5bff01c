package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// timedStream reads a stream on its own goroutine and stamps each event
// with the time it was parsed.
type timedStream struct {
	events chan timedEvent
	cancel context.CancelFunc
	done   chan struct{}
}

type timedEvent struct {
	ev ssetest.Event
	at time.Time
}

func openTimed(t *testing.T, url string) *timedStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	client := http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET %s: %v %v", url, err, resp)
	}
	s := &timedStream{events: make(chan timedEvent, 1<<20), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		p := ssetest.NewParser(resp.Body)
		for {
			ev, err := p.Next()
			if err != nil {
				return
			}
			s.events <- timedEvent{ev, time.Now()}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-s.done })
	return s
}

// TestClusterLoad measures two nodes sharing Redis: cross-node latency
// from the publish request on node A to the event parsed by a client of
// node B, and the sustained rate node B's clients receive at while node A
// is published to by several publishers at once. Every event must arrive,
// in order. SSEHUB_CLUSTER_LOAD_EVENTS sets the size (default 300, a
// quick check; the README's figures use 20000, without -race).
func TestClusterLoad(t *testing.T) {
	n := 300
	if v := os.Getenv("SSEHUB_CLUSTER_LOAD_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			t.Fatalf("SSEHUB_CLUSTER_LOAD_EVENTS=%q: want a count of at least 10", v)
		}
	}
	const listeners, publishers = 50, 4
	prefix := clusterPrefix(t, sharedRedis)
	site := func(addr string) string {
		return clusterSite(addr, "load", sharedRedis, prefix, "max_subscribers_per_ip unlimited\n\t\tsubscriber_buffer 100000")
	}
	loadCaddyfile(t, site(siteAddr))
	b := startRemoteNode(t, site)
	url := b.siteURL + "/events/news"
	measured := openTimed(t, url)
	var others []*timedStream
	for range listeners - 1 {
		others = append(others, openTimed(t, url))
	}
	waitSubscribersAt(t, b.adminURL, "load", "news", listeners)
	client := &http.Client{Timeout: 30 * time.Second}
	post := func(body string) error {
		resp, err := client.Post(adminURL+"/sse_hub/publish", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, readAll(resp))
		}
		return nil
	}

	// Latency: one publisher, one event at a time; the data is the send
	// time, so the receiving side computes the delay.
	latencies := make([]time.Duration, 0, n)
	for i := range n {
		sent := time.Now()
		if err := post(fmt.Sprintf(`{"hub":"load","channel":"news","data":"%d"}`, sent.UnixNano())); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		select {
		case te := <-measured.events:
			ns, _ := strconv.ParseInt(te.ev.Data, 10, 64)
			if ns != sent.UnixNano() {
				t.Fatalf("event %d on node B carries %q, want %d", i, te.ev.Data, sent.UnixNano())
			}
			latencies = append(latencies, te.at.Sub(sent))
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d not on node B within 10s", i)
		}
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }

	// Throughput: several publishers at once, one event per request, then
	// batches of 100 (JSON arrays).
	throughput := func(phase string, batch int) (float64, time.Duration) {
		var next atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for range publishers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					first := next.Add(int64(batch)) - int64(batch)
					if first >= int64(n) {
						return
					}
					lines := make([]string, 0, batch)
					for i := first; i < min(first+int64(batch), int64(n)); i++ {
						lines = append(lines, fmt.Sprintf(`{"hub":"load","channel":"news","data":"%s%d"}`, phase, i))
					}
					if err := post("[" + strings.Join(lines, ",") + "]"); err != nil {
						t.Errorf("publish: %v", err)
						return
					}
				}
			}()
		}
		seen := make(map[string]bool, n)
		var last string
		for len(seen) < n {
			select {
			case te := <-measured.events:
				if seen[te.ev.Data] || !strings.HasPrefix(te.ev.Data, phase) || last != "" && !mustID(t, last).Less(mustID(t, te.ev.LastEventID)) {
					t.Fatalf("event %+v twice, out of order or not of this phase", te.ev)
				}
				seen[te.ev.Data], last = true, te.ev.LastEventID
			case <-time.After(20 * time.Second):
				t.Fatalf("node B got %d of %d events", len(seen), n)
			}
		}
		took := time.Since(start)
		wg.Wait()
		return float64(n) / took.Seconds(), took
	}
	single, singleTook := throughput("s", 1)
	batched, batchedTook := throughput("b", 100)
	for i, s := range others {
		got := 0
		for got < 3*n {
			select {
			case <-s.events:
				got++
			case <-time.After(10 * time.Second):
				t.Fatalf("listener %d on node B got %d of %d events", i, got, 3*n)
			}
		}
	}
	t.Logf("cross-node publish on A -> client of B (%d clients on B): latency p50 %v, p99 %v, max %v over %d events; "+
		"throughput with %d concurrent publishers: %.0f events/s one event per request (%v), %.0f events/s in batches of 100 (%v)",
		listeners, pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond), n,
		publishers, single, singleTook.Round(time.Millisecond), batched, batchedTook.Round(time.Millisecond))
}
