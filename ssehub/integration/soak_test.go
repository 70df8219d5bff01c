package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// TestSoak runs about two minutes of everything at once, bounded: a
// publisher of single events and batch bursts (up to 2,000 events), readers
// that resume with Last-Event-ID whenever their stream ends (three on each
// path), clients that connect and leave, two that stop reading, four
// reloads, and two Redis restarts. At the end every reading client has every
// acknowledged event, in order, once; the stopped clients were cut; and
// goroutines and heap are back to their baseline.
func TestSoak(t *testing.T) {
	r := startOwnRedis(t)
	prefix := clusterPrefix(t, r.addr)
	const hubName = "soak"
	site := func(heartbeat string) string {
		// History big enough for everything published while a reader
		// reconnects (bursts included), so resuming always replays it.
		return leanSite(hubName, `		channel news {
			history_size 20000
		}
		slow_consumer_grace 2s
		reload_drain 500ms
		max_subscribers_per_ip unlimited
		heartbeat `+heartbeat+`
		redis `+r.addr+` {
			prefix `+prefix+`
		}`)
	}
	loadCaddyfile(t, site("5s"))
	goroutines, heap := settle()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var acked ackLog
	var failures sync.Map // what went wrong in a goroutine, reported at the end

	var readers []*resumingReader
	for i := range 6 {
		path := "/events/news"
		if i%2 == 1 {
			path = "/lean/news"
		}
		rd := &resumingReader{path: path}
		readers = append(readers, rd)
		wg.Go(func() { rd.run(ctx) })
	}
	waitSubscribers(t, hubName, "news", 6)
	for range 2 {
		dialStuck(t, "/events/news")
	}
	var churnMu sync.Mutex
	var churnFailures []timedError
	wg.Go(func() { // churn
		for i := 0; ctx.Err() == nil; i++ {
			if err := rawGetAndLeave("/events/news", i%2 == 0); err != nil && ctx.Err() == nil {
				churnMu.Lock()
				churnFailures = append(churnFailures, timedError{time.Now(), err})
				churnMu.Unlock()
			}
			sleepOrDone(ctx, 20*time.Millisecond)
		}
	})
	publishing, stopPublishing := context.WithCancel(ctx)
	wg.Go(func() { acked.publish(publishing, hubName) })

	// The timeline, from the test goroutine (loads may fail the test).
	start := time.Now()
	at := func(d time.Duration) { sleepOrDone(ctx, time.Until(start.Add(d))) }
	var reloads []time.Time
	reload := func(heartbeat string) {
		reloads = append(reloads, time.Now())
		loadCaddyfile(t, site(heartbeat))
	}
	var kills []time.Time
	restartRedis := func() {
		kills = append(kills, time.Now())
		r.kill()
		sleepOrDone(ctx, 3*time.Second)
		r.start(t)
	}
	at(15 * time.Second)
	reload("6s")
	at(30 * time.Second)
	restartRedis()
	at(50 * time.Second)
	reload("5s")
	at(65 * time.Second)
	reload("7s")
	at(80 * time.Second)
	restartRedis()
	at(95 * time.Second)
	reload("5s")
	at(110 * time.Second)
	stopPublishing()
	t.Logf("timeline since start: reloads at %v, Redis killed at %v", sinceAll(start, reloads), sinceAll(start, kills))

	all := acked.all()
	if len(all) < 1000 {
		t.Fatalf("only %d events were acknowledged in the soak", len(all))
	}
	// Redis keeps nothing on disk here: an event it stored just before it
	// was killed, which no reader had read yet, is gone (the README's
	// "Redis restarts empty" row); its publish answered within 2s.
	var ids []string
	for _, a := range all {
		aroundAKill := false
		for _, k := range kills {
			aroundAKill = aroundAKill || !a.at.Before(k.Add(-100*time.Millisecond)) && !a.at.After(k.Add(2500*time.Millisecond))
		}
		if !aroundAKill {
			ids = append(ids, a.id)
		}
	}
	last := ids[len(ids)-1]
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, rd := range readers {
			done = done && rd.has(last)
		}
		if done {
			break
		}
		sleepOrDone(ctx, 50*time.Millisecond)
	}
	stop()
	wg.Wait()
	failures.Range(func(k, v any) bool { t.Errorf("%v: %v", k, v); return true })
	churnMu.Lock()
	for _, f := range churnFailures {
		// Caddy 2.11.9 itself drops connections that arrive during a
		// reload (reset on connect, reset or EOF on the first read):
		// with a config of nothing but `respond`, 11 of 39,500 requests
		// failed across 16 reloads. An EventSource reconnects after such
		// a network error. During a reload it is logged; anywhere else
		// it fails the test.
		if droppedConnection(f.err) && duringReload(f.at, reloads) {
			t.Logf("churn: %v at %v, during a reload", f.err, f.at.Sub(start).Round(time.Millisecond))
			continue
		}
		t.Errorf("churn: %v at %v (reloads at %v)", f.err, f.at.Sub(start).Round(time.Millisecond), sinceAll(start, reloads))
	}
	churnMu.Unlock()
	for i, rd := range readers {
		if err := rd.check(ids); err != nil {
			t.Errorf("reader %d (%s): %v", i, rd.path, err)
		}
	}
	t.Logf("soak: %d events acknowledged (%d publish requests refused, during the Redis outages; %d acknowledged around the kills not required); readers reconnected %v times",
		len(all), acked.refused.Load(), len(all)-len(ids), readerReconnects(readers))
	waitSubscribers(t, hubName, "news", 0)
	var afterG int
	var afterHeap uint64
	waitFor(t, "goroutines back to baseline", 30*time.Second, func() bool {
		afterG, afterHeap = settle()
		return afterG <= goroutines+5
	})
	t.Logf("goroutines %d -> %d, heap %d KiB -> %d KiB", goroutines, afterG, heap>>10, afterHeap>>10)
	if afterHeap > heap+32<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB over the soak", heap>>10, afterHeap>>10)
	}
}

// ackLog records the IDs of acknowledged events, in order.
type ackLog struct {
	mu      sync.Mutex
	acks    []ackedEvent
	refused atomic.Int64
}

type ackedEvent struct {
	id string
	at time.Time // when the publish answered
}

func (a *ackLog) all() []ackedEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]ackedEvent(nil), a.acks...)
}

// publish sends single events, with a burst (100 to 2,000 events in one
// NDJSON batch) every tenth request, until ctx ends.
func (a *ackLog) publish(ctx context.Context, hubName string) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; ctx.Err() == nil; i++ {
		n := 1
		if i%10 == 9 {
			n = 100 + (i*37)%1900
		}
		lines := make([]string, n)
		for j := range lines {
			lines[j] = fmt.Sprintf(`{"hub":%q,"channel":"news","data":"%d-%d"}`, hubName, i, j)
		}
		resp, err := client.Post(adminURL+"/sse_hub/publish", "application/x-ndjson", strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			a.refused.Add(1)
			continue
		}
		body := readAll(resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			a.refused.Add(1) // 503 while Redis is down: not acknowledged
			sleepOrDone(ctx, 50*time.Millisecond)
			continue
		}
		var res struct{ Events []published } // NDJSON is answered as a batch, even of one
		if err := jsonUnmarshal(body, &res); err != nil || len(res.Events) != n {
			a.refused.Add(1) // not understood: not counted as acknowledged
			continue
		}
		now := time.Now()
		a.mu.Lock()
		for _, p := range res.Events {
			a.acks = append(a.acks, ackedEvent{p.ID, now})
		}
		a.mu.Unlock()
		sleepOrDone(ctx, 20*time.Millisecond)
	}
}

// resumingReader is an EventSource-like client: whenever its stream ends
// it reconnects with the last ID it received.
type resumingReader struct {
	path       string
	mu         sync.Mutex
	ids        []string
	seen       map[string]bool
	gaps       []string
	reconnects int
}

func (rd *resumingReader) run(ctx context.Context) {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, siteURL+rd.path, nil)
		rd.mu.Lock()
		if len(rd.ids) > 0 {
			req.Header.Set("Last-Event-Id", rd.ids[len(rd.ids)-1])
		}
		rd.mu.Unlock()
		resp, err := client.Do(req)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				p := ssetest.NewParser(bufio.NewReader(resp.Body))
				for {
					ev, err := p.Next()
					if err != nil {
						break
					}
					switch ev.Type {
					case "message":
						rd.add(ev.LastEventID)
					case "sse_hub.gap":
						rd.gap(ev.Data)
					}
				}
			}
			resp.Body.Close()
		}
		rd.mu.Lock()
		rd.reconnects++
		rd.mu.Unlock()
		sleepOrDone(ctx, 100*time.Millisecond) // the retry: hint's order of magnitude
	}
}

func (rd *resumingReader) add(id string) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.seen == nil {
		rd.seen = make(map[string]bool)
	}
	rd.ids = append(rd.ids, id)
	rd.seen[id] = true
}

// gap records a gap notice: the hub told the reader it missed events.
func (rd *resumingReader) gap(data string) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.gaps = append(rd.gaps, data)
}

func (rd *resumingReader) has(id string) bool {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.seen[id]
}

// check reports an acknowledged event the reader lacks, or one it got
// twice or out of order.
func (rd *resumingReader) check(acked []string) error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	for i := 1; i < len(rd.ids); i++ {
		if !mustParseID(rd.ids[i-1]).Less(mustParseID(rd.ids[i])) {
			return fmt.Errorf("event %s came after %s (out of order or twice)", rd.ids[i], rd.ids[i-1])
		}
	}
	var missing []string
	for _, id := range acked {
		if !rd.seen[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d of %d acknowledged events missing, the first %s, the last %s; gap notices %v", len(missing), len(acked), missing[0], missing[len(missing)-1], rd.gaps)
	}
	return nil
}

func readerReconnects(readers []*resumingReader) []int {
	var n []int
	for _, rd := range readers {
		rd.mu.Lock()
		n = append(n, rd.reconnects)
		rd.mu.Unlock()
	}
	return n
}

// sleepOrDone waits d, or less if ctx ends.
func sleepOrDone(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func jsonUnmarshal(body string, v any) error { return json.Unmarshal([]byte(body), v) }

// mustParseID parses an event ID the hub handed out (zero if it is not one).
func mustParseID(s string) hub.ID {
	id, _ := hub.ParseID(s)
	return id
}

type timedError struct {
	at  time.Time
	err error
}

// droppedConnection: the server closed or reset the connection.
func droppedConnection(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// duringReload: from a reload's start until its drain (500ms) is surely
// over.
func duringReload(at time.Time, reloads []time.Time) bool {
	for _, r := range reloads {
		if !at.Before(r) && at.Before(r.Add(3*time.Second)) {
			return true
		}
	}
	return false
}

func sinceAll(start time.Time, times []time.Time) []time.Duration {
	out := make([]time.Duration, len(times))
	for i, t := range times {
		out[i] = t.Sub(start).Round(time.Millisecond)
	}
	return out
}
