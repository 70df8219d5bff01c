package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

func TestMaxLifetimeEndsStreamsWithJitter(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events/* {
		hub lifetime
		max_lifetime 1s
	}
}`)
	start := time.Now()
	s := subscribe(t, "/events/news", nil)
	s.expectEnd(t, 5*time.Second)
	if took := time.Since(start); took < 850*time.Millisecond || took > 2*time.Second {
		t.Errorf("a stream with max_lifetime 1s ended after %v, want 0.9-1s (plus scheduling)", took)
	}
}

func drainSite(heartbeat string, lean bool) string {
	leanLine := ""
	if lean {
		leanLine = "\n\t\tlean"
	}
	return `
http://` + siteAddr + ` {
	sse_hub /events/* {
		hub drain
		channel news {
			history_size 100000
		}
		reload_drain 2s
		heartbeat ` + heartbeat + `
		max_subscribers_per_ip unlimited` + leanLine + `
	}
}`
}

// TestReloadDrainSpreadsClosesAndLosesNothing reloads while 20 streams are
// open and events keep coming: old streams keep receiving, close spread
// over the 2s drain window, each after a closing retry hint, and each
// client resuming with its last ID ends up with every event exactly once.
func TestReloadDrainSpreadsClosesAndLosesNothing(t *testing.T) { checkReloadDrain(t, false) }

// checkReloadDrain is TestReloadDrainSpreadsClosesAndLosesNothing on the
// normal or the lean path.
func checkReloadDrain(t *testing.T, lean bool) {
	loadCaddyfile(t, drainSite("15s", lean))
	const clients = 20
	streams := make([]*stream, clients)
	bodies := make([]*recordedBody, clients)
	for i := range streams {
		streams[i], bodies[i] = subscribeRecorded(t, "/events/news", nil)
		requireLean(t, streams[i], lean)
	}

	var (
		mu           sync.Mutex
		publishedIDs []string
		// Caddy replaces its admin server on every load, so a publish in
		// flight during the /load request can be cut off unanswered; the
		// publisher pauses only for that request, not for the drain.
		loading sync.RWMutex
	)
	stop := make(chan struct{})
	publisherDone := make(chan struct{})
	go func() {
		defer close(publisherDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			loading.RLock()
			status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json", fmt.Sprintf(`{"hub":"drain","channel":"news","data":"%d"}`, i))
			loading.RUnlock()
			if status != http.StatusOK {
				t.Errorf("publish: %d %s", status, body)
				return
			}
			var p published
			mustUnmarshal(t, body, &p)
			mu.Lock()
			publishedIDs = append(publishedIDs, p.ID)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // a steady publisher, not a wait for a condition
		}
	}()
	waitFor(t, "the publisher to get going", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(publishedIDs) >= 20
	})

	reloadAt := time.Now()
	mu.Lock()
	lastBeforeReload := publishedIDs[len(publishedIDs)-1]
	mu.Unlock()
	loading.Lock()
	loadCaddyfile(t, drainSite("20s", lean))
	loading.Unlock()

	type result struct {
		ended  time.Duration
		events []ssetest.Event
	}
	results := make([]result, clients)
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			var evs []ssetest.Event
			deadline := time.After(10 * time.Second)
			for {
				select {
				case ev, ok := <-s.events:
					if !ok {
						results[i] = result{time.Since(reloadAt), evs}
						return
					}
					evs = append(evs, ev)
				case <-deadline:
					results[i] = result{-1, evs}
					return
				}
			}
		})
	}
	wg.Wait()

	var ends []time.Duration
	receivedDuringDrain := 0
	retryHint := []byte("retry: 3000\n\n")
	for i, r := range results {
		if r.ended < 0 {
			t.Fatalf("stream %d did not end within 10s of the reload", i)
		}
		ends = append(ends, r.ended)
		for _, ev := range r.events {
			if mustID(t, lastBeforeReload).Less(mustID(t, ev.LastEventID)) {
				receivedDuringDrain++
				break
			}
		}
		if b := bodies[i].bytes(); !bytes.HasSuffix(b, retryHint) || bytes.Count(b, []byte("retry: ")) != 2 {
			t.Errorf("stream %d ended with %q and %d retry hints, want the closing retry hint after the opening one",
				i, b[max(0, len(b)-40):], bytes.Count(b, []byte("retry: ")))
		}
	}
	slices.Sort(ends)
	t.Logf("old streams closed from %v to %v after the reload began (drain window 2s)", ends[0], ends[len(ends)-1])
	// The window is 2s; the slack is for a loaded machine, not for a stream
	// that ignores the window (that one would stay open: see the 10s bound).
	if ends[len(ends)-1] > 5*time.Second {
		t.Errorf("the last old stream closed %v after the reload, want within the 2s window", ends[len(ends)-1])
	}
	if spread := ends[len(ends)-1] - ends[0]; spread < time.Second {
		t.Errorf("closes spread over only %v of a 2s window", spread)
	}
	if receivedDuringDrain < clients/2 {
		t.Errorf("only %d of %d old streams received events published after the reload", receivedDuringDrain, clients)
	}

	// Every client resumes with its last ID on the new config.
	resumed := make([]*stream, clients)
	for i, r := range results {
		if len(r.events) == 0 {
			t.Fatalf("stream %d received nothing, though it was open before publishing began", i)
		}
		last := r.events[len(r.events)-1].LastEventID
		resumed[i] = subscribe(t, "/events/news", http.Header{"Last-Event-Id": {last}})
		requireLean(t, resumed[i], lean)
	}
	close(stop)
	<-publisherDone
	mu.Lock()
	all := slices.Clone(publishedIDs)
	mu.Unlock()
	for i, r := range results {
		var seen []string
		for _, ev := range r.events {
			seen = append(seen, ev.LastEventID)
		}
		start := slices.Index(all, seen[0])
		for len(seen) < len(all)-start {
			seen = append(seen, resumed[i].next(t).LastEventID)
		}
		if !slices.Equal(seen, all[start:]) {
			t.Fatalf("client %d: events across the reload differ from those published (gap or duplicate)", i)
		}
	}
}

// TestShutdownEndsStreamsPromptly runs Caddy as its own process (a real
// SIGTERM exits the process) with open streams and no grace_period, where
// Caddy waits for handlers forever: it must still exit within about a
// second.
func TestShutdownEndsStreamsPromptly(t *testing.T) { checkShutdown(t, 2, false) }

// checkShutdown is TestShutdownEndsStreamsPromptly on the normal or the
// lean path, with Caddy at shiftedAddrs(shift): the process exits about
// as fast, and every stream ends.
func checkShutdown(t *testing.T, shift int, lean bool) {
	dir := t.TempDir()
	bin := caddyBinary(t)
	admin, site := shiftedAddrs(shift)
	caddyfile := filepath.Join(dir, "Caddyfile")
	leanLine := ""
	if lean {
		leanLine = "lean"
	}
	config := fmt.Sprintf(`{
	admin %s
	persist_config off
	auto_https off
}
http://%s {
	sse_hub /events/* {
		%s
	}
}
`, admin, site, leanLine)
	if err := os.WriteFile(caddyfile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", caddyfile)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	client := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 10 * time.Second}}
	var streams []*http.Response
	waitFor(t, "the Caddy process to serve", 30*time.Second, func() bool {
		resp, err := client.Get("http://" + site + "/events/news")
		if err != nil {
			return false
		}
		streams = append(streams, resp)
		return true
	})
	for range 4 {
		resp, err := client.Get("http://" + site + "/events/news")
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, resp)
	}
	ended := make(chan int, len(streams))
	for i, resp := range streams {
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || wentLean(resp) != lean {
			t.Fatalf("stream %d: %d, Transfer-Encoding %v: lean = %v, want %v", i, resp.StatusCode, resp.TransferEncoding, wentLean(resp), lean)
		}
		go func() {
			_, _ = io.Copy(io.Discard, resp.Body)
			ended <- i
		}()
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		took := time.Since(start)
		t.Logf("Caddy exited %v after SIGTERM with %d open streams (lean %v)", took, len(streams), lean)
		if took > 3*time.Second { // about a second; slack for a loaded machine
			t.Errorf("exit took %v with open streams, want about a second", took)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Caddy still running 15s after SIGTERM: open streams hang the shutdown")
	}
	for range streams {
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatal("a stream was still open 5s after Caddy exited")
		}
	}
}

// TestNoLeaksAfter10000Subscribers connects and disconnects 10,000
// subscribers and checks that goroutines and heap come back to baseline.
func TestNoLeaksAfter10000Subscribers(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events/* {
		hub leaks
		max_subscribers_per_ip unlimited
	}
}`)
	transport := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	client := &http.Client{Transport: transport}
	open := func() {
		resp, err := client.Get(siteURL + "/events/news")
		if err != nil {
			t.Error(err)
			return
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d: %s", resp.StatusCode, readAll(resp))
		}
		resp.Body.Close()
	}
	open()
	waitSubscribers(t, "leaks", "news", 0)
	goroutines, heap := settle()

	const total, concurrency = 10000, 200
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for range total {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			open()
		})
	}
	wg.Wait()
	transport.CloseIdleConnections()
	waitSubscribers(t, "leaks", "news", 0)

	var afterG int
	var afterHeap uint64
	waitFor(t, "goroutines back to baseline", 20*time.Second, func() bool {
		afterG, afterHeap = settle()
		return afterG <= goroutines+5
	})
	t.Logf("after %d subscribers: goroutines %d -> %d, heap %d KiB -> %d KiB", total, goroutines, afterG, heap>>10, afterHeap>>10)
	if afterHeap > heap+8<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB after %d subscribers came and went", heap>>10, afterHeap>>10, total)
	}
}

// settle collects garbage and returns the goroutine count and live heap.
func settle() (int, uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}
