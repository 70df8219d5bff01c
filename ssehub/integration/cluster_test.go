package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// Cluster tests: node A is the in-process Caddy, node B a separate Caddy
// process; both serve one hub stored in Redis.

func TestClusterPublishOnOneNodeReachesTheOther(t *testing.T) {
	prefix := clusterPrefix(t, sharedRedis)
	site := func(addr string) string { return clusterSite(addr, "cluster", sharedRedis, prefix, "") }
	loadCaddyfile(t, site(siteAddr))
	b := startRemoteNode(t, site)

	onB := b.subscribe(t, "/events/?channel=news&channel=chat&channel=room-7", nil)
	onA := subscribe(t, "/events/news", nil)
	waitSubscribersAt(t, b.adminURL, "cluster", "news", 1)
	waitSubscribers(t, "cluster", "news", 1)

	sent := []published{
		publishJSON(t, `{"hub":"cluster","channel":"news","data":"from A"}`),
		publishJSON(t, `{"hub":"cluster","channels":["news","chat"],"data":"both, from A"}`),
		b.publish(t, `{"hub":"cluster","channel":"room-7","data":"room, from B"}`),
		b.publish(t, `{"hub":"cluster","channel":"news","data":"news from B"}`),
	}
	for i := 1; i < len(sent); i++ {
		if mustID(t, sent[i].ID).Less(mustID(t, sent[i-1].ID)) || sent[i].ID == sent[i-1].ID {
			t.Fatalf("IDs across nodes not increasing: %+v", sent)
		}
	}
	// The answer counts the publishing node's own subscribers.
	if sent[0].Subscribers != 1 || sent[3].Subscribers != 1 {
		t.Errorf("subscriber counts %+v: want each node's own subscribers of the channel (1)", sent)
	}
	wantB := []string{"from A", "both, from A", "room, from B", "news from B"}
	for i, ev := range onB.nextN(t, 4) {
		if ev.LastEventID != sent[i].ID || ev.Data != wantB[i] {
			t.Errorf("node B event %d: %+v, want id %s data %q", i, ev, sent[i].ID, wantB[i])
		}
	}
	wantA := []int{0, 1, 3}
	for i, ev := range onA.nextN(t, 3) {
		if want := sent[wantA[i]]; ev.LastEventID != want.ID {
			t.Errorf("node A event %d: %+v, want id %s", i, ev, want.ID)
		}
	}
	onB.expectQuiet(t, 200*time.Millisecond) // "both" came once
}

// publishLoop publishes "0", "1", ... to one channel of a hub on the admin
// API at base until stop closes, recording which were acknowledged.
type publishLoop struct {
	mu       sync.Mutex
	acks     []ack
	refused  int
	lastBody string
	done     chan struct{}
}

type ack struct {
	id   string
	data string
	at   time.Time
}

func startPublishing(t *testing.T, base, hubName, channel string, stop <-chan struct{}) *publishLoop {
	l := &publishLoop{done: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second}
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data := strconv.Itoa(i)
			body := fmt.Sprintf(`{"hub":%q,"channel":%q,"data":%q}`, hubName, channel, data)
			resp, err := client.Post(base+"/sse_hub/publish", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("publish %s: %v", data, err)
				return
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			l.mu.Lock()
			switch resp.StatusCode {
			case http.StatusOK:
				var p published
				if err := json.Unmarshal(answer, &p); err != nil {
					t.Errorf("publish answer %q: %v", answer, err)
				}
				l.acks = append(l.acks, ack{id: p.ID, data: data, at: time.Now()})
			case http.StatusServiceUnavailable:
				l.refused++
				l.lastBody = string(answer)
			default:
				t.Errorf("publish %s: %d %s", data, resp.StatusCode, answer)
			}
			refused := resp.StatusCode != http.StatusOK
			l.mu.Unlock()
			if refused {
				time.Sleep(10 * time.Millisecond) // pace retries while Redis is down
			}
		}
	}()
	return l
}

func (l *publishLoop) snapshot() (acks []ack, refused int, lastBody string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acks...), l.refused, l.lastBody
}

// readThrough reads a stream until it delivered the event with ID last.
func readThrough(t *testing.T, s *stream, last string) []ssetest.Event {
	t.Helper()
	var evs []ssetest.Event
	for {
		ev := s.next(t)
		evs = append(evs, ev)
		if ev.LastEventID == last && ev.Type == "message" {
			return evs
		}
	}
}

// checkDelivered checks that a stream's events are gap notices-free,
// strictly increasing by ID, and hold every acknowledged event in want.
func checkDelivered(t *testing.T, node string, got []ssetest.Event, want []ack) {
	t.Helper()
	byID := make(map[string]string, len(got))
	var prev string
	for _, ev := range got {
		if ev.Type != "message" {
			t.Errorf("%s: unexpected %s event %q", node, ev.Type, ev.Data)
			continue
		}
		if prev != "" && !mustID(t, prev).Less(mustID(t, ev.LastEventID)) {
			t.Fatalf("%s: event %s after %s: not in ID order, or twice", node, ev.LastEventID, prev)
		}
		prev = ev.LastEventID
		byID[ev.LastEventID] = ev.Data
	}
	missing := 0
	for _, a := range want {
		if data, ok := byID[a.id]; !ok || data != a.data {
			if missing < 5 {
				t.Errorf("%s: acknowledged event %s (data %s) not delivered", node, a.id, a.data)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d acknowledged events missing", node, missing, len(want))
	}
}

// TestClusterResumeOnTheOtherNodeLosesNothing moves one client back and
// forth between the nodes while node A publishes without pause: each time
// it resumes on the other node with the last ID it got, and it must see
// every event exactly once, in order.
func TestClusterResumeOnTheOtherNodeLosesNothing(t *testing.T) {
	prefix := clusterPrefix(t, sharedRedis)
	site := func(addr string) string { return clusterSite(addr, "hop", sharedRedis, prefix, "") }
	loadCaddyfile(t, site(siteAddr))
	b := startRemoteNode(t, site)

	first := subscribe(t, "/events/news", nil)
	waitSubscribers(t, "hop", "news", 1)
	stop := make(chan struct{})
	loop := startPublishing(t, adminURL, "hop", "news", stop)
	defer func() { close(stop); <-loop.done }()

	var got []ssetest.Event
	s := first
	for hop := 0; hop < 8; hop++ {
		got = append(got, s.nextN(t, 25)...)
		s.close()
		header := http.Header{"Last-Event-Id": {got[len(got)-1].LastEventID}}
		if hop%2 == 0 {
			s = b.subscribe(t, "/events/news", header)
		} else {
			s = subscribe(t, "/events/news", header)
		}
	}
	got = append(got, s.nextN(t, 25)...)
	for i, ev := range got {
		if ev.Type != "message" || ev.Data != strconv.Itoa(i) {
			t.Fatalf("event %d after %d hops between nodes: %+v, want data %d", i, i/25, ev, i)
		}
	}
}

// rawLines reads a stream's lines, to see heartbeat comments.
func rawLines(t *testing.T, url string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	lines := make(chan string, 10000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody is looking; drop
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return lines
}

// TestClusterSurvivesRedisRestart kills the Redis server under both nodes
// while node A publishes without pause, then starts it again.
func TestClusterSurvivesRedisRestart(t *testing.T) {
	rd := startOwnRedis(t)
	prefix := clusterPrefix(t, rd.addr)
	site := func(addr string) string { return clusterSite(addr, "restart", rd.addr, prefix, "heartbeat 200ms") }
	loadCaddyfile(t, site(siteAddr))
	b := startRemoteNode(t, site)
	up := `caddy_sse_hub_backend_up{hub="restart"}`
	waitFor(t, "node A's backend up", 10*time.Second, func() bool { v, ok := scrape(t)[up]; return ok && v == 1 })

	onA := subscribe(t, "/events/news", nil)
	onB := b.subscribe(t, "/events/news", nil)
	waitSubscribers(t, "restart", "news", 1)
	waitSubscribersAt(t, b.adminURL, "restart", "news", 1)
	lines := rawLines(t, siteURL+"/events/chat")

	stop := make(chan struct{})
	loop := startPublishing(t, adminURL, "restart", "news", stop)
	stopped := false
	defer func() {
		if !stopped {
			close(stop)
			<-loop.done
		}
	}()
	acked := func() int { a, _, _ := loop.snapshot(); return len(a) }
	waitFor(t, "50 acknowledged events", 10*time.Second, func() bool { return acked() >= 50 })

	killedAt := time.Now()
	rd.kill()
	_, refusedBefore, _ := loop.snapshot()
	waitFor(t, "publishes refused while Redis is down", 10*time.Second, func() bool {
		_, refused, _ := loop.snapshot()
		return refused >= refusedBefore+3
	})
	_, _, body := loop.snapshot()
	if !strings.Contains(body, "event store is unavailable, nothing was published") {
		t.Errorf("503 body %q does not say what happened", body)
	}
	waitFor(t, "backend_up 0 on node A", 10*time.Second, func() bool { return scrape(t)[up] == 0 })
	start := time.Now()
	if status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json", `{"hub":"restart","channel":"chat","data":"x"}`); status != http.StatusServiceUnavailable {
		t.Errorf("publish while Redis is down: %d %s, want 503", status, body)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a publish took %v to be refused while Redis is down", took)
	}
	// Open streams stay open and keep getting heartbeats.
	waitFor(t, "a heartbeat while Redis is down", 5*time.Second, func() bool {
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatal("stream ended while Redis was down")
				}
				if line == ": heartbeat" {
					return true
				}
			default:
				return false
			}
		}
	})
	for _, s := range []*stream{onA, onB} {
		select {
		case <-s.done:
			t.Fatal("a subscriber's stream ended while Redis was down")
		default:
		}
	}
	// New streams: one whose Last-Event-ID node A's logs cover is served;
	// one that needs Redis is refused with 503 and Retry-After.
	acksNow, _, _ := loop.snapshot()
	covered := subscribe(t, "/events/news", http.Header{"Last-Event-Id": {acksNow[len(acksNow)-2].id}})
	if ev := covered.next(t); ev.LastEventID != acksNow[len(acksNow)-1].id {
		t.Errorf("resuming from node A's own history while Redis is down: %+v, want %s", ev, acksNow[len(acksNow)-1].id)
	}
	covered.close()
	resp, err := http.DefaultClient.Do(func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, siteURL+"/events/news", nil)
		req.Header.Set("Last-Event-ID", "1-0")
		return req
	}())
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(resp); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "cannot read history") {
		t.Errorf("resuming from before node A's history while Redis is down: %d %q (Retry-After %q), want 503 with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	resp.Body.Close()
	// Stay down long enough for the readers' backoff to reach its cap.
	waitFor(t, "a hundred refused publishes", 20*time.Second, func() bool {
		_, refused, _ := loop.snapshot()
		return refused >= refusedBefore+100
	})
	ackedAtKill := acked()
	outage := time.Since(killedAt)

	restartedAt := time.Now()
	rd.start(t)
	waitFor(t, "backend_up 1 on node A", 10*time.Second, func() bool { return scrape(t)[up] == 1 })
	reconnected := time.Since(restartedAt)
	waitFor(t, "50 more acknowledged events", 15*time.Second, func() bool { return acked() >= ackedAtKill+50 })
	close(stop)
	<-loop.done
	stopped = true
	acks, refused, _ := loop.snapshot()
	last := acks[len(acks)-1].id

	checkDelivered(t, "node A", readThrough(t, onA, last), acks)
	// Redis here keeps nothing on disk, so events node B had not read yet
	// when Redis died are gone for it; everything acknowledged some time
	// before the kill, and everything after the restart, must be there.
	var wantB []ack
	for _, a := range acks {
		if a.at.Before(killedAt.Add(-100*time.Millisecond)) || a.at.After(restartedAt) {
			wantB = append(wantB, a)
		}
	}
	gotB := readThrough(t, onB, last)
	checkDelivered(t, "node B", gotB, wantB)
	onBIDs := make(map[string]bool, len(gotB))
	for _, ev := range gotB {
		onBIDs[ev.LastEventID] = true
	}
	lostOnB := 0
	for _, a := range acks {
		if !onBIDs[a.id] {
			lostOnB++
		}
	}
	t.Logf("node B missed %d acknowledged events (allowed: those of the last 100ms before the kill)", lostOnB)
	t.Logf("%d events acknowledged (%d before the kill), %d publishes refused with 503 during a %v outage; reconnected %v after the restart",
		len(acks), ackedAtKill, refused, outage.Round(time.Millisecond), reconnected.Round(time.Millisecond))
}

// TestClusterReloadKeepsOrSwitchesTheBackend reloads with the same Redis
// settings (the hub keeps its reader and stream) and then with another
// prefix (the hub switches to the new stream, IDs still increasing).
func TestClusterReloadKeepsOrSwitchesTheBackend(t *testing.T) {
	first := clusterPrefix(t, sharedRedis)
	second := clusterPrefix(t, sharedRedis)
	client := redis.NewClient(&redis.Options{Addr: sharedRedis})
	defer client.Close()
	length := func(prefix string) int64 {
		n, err := client.XLen(context.Background(), prefix+"hub:reloaded").Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	loadCaddyfile(t, clusterSite(siteAddr, "reloaded", sharedRedis, first, "heartbeat 15s"))
	p1 := publishJSON(t, `{"hub":"reloaded","channel":"news","data":"1"}`)
	loadCaddyfile(t, clusterSite(siteAddr, "reloaded", sharedRedis, first, "heartbeat 10s"))
	p2 := publishJSON(t, `{"hub":"reloaded","channel":"news","data":"2"}`)
	if n := length(first); n != 2 {
		t.Fatalf("stream of the first prefix holds %d events after a reload with the same settings, want 2", n)
	}
	loadCaddyfile(t, clusterSite(siteAddr, "reloaded", sharedRedis, second, "heartbeat 10s"))
	resumed := subscribe(t, "/events/news", http.Header{"Last-Event-Id": {p1.ID}})
	p3 := publishJSON(t, `{"hub":"reloaded","channel":"news","data":"3"}`)
	if n1, n2 := length(first), length(second); n1 != 2 || n2 != 1 {
		t.Fatalf("after switching the prefix: %d events in the old stream (want 2), %d in the new (want 1)", n1, n2)
	}
	if !mustID(t, p2.ID).Less(mustID(t, p3.ID)) {
		t.Fatalf("ID %s after the switch is not after %s", p3.ID, p2.ID)
	}
	// The hub's own history still holds event 2; event 3 follows live.
	for i, want := range []published{p2, p3} {
		if ev := resumed.next(t); ev.LastEventID != want.ID {
			t.Fatalf("event %d after resuming: %+v, want %s", i, ev, want.ID)
		}
	}
}
