package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisCounters reads, from Redis itself, the calls of the commands a
// replay may use (XRANGE, XREVRANGE, XINFO) and the bytes Redis has sent
// to all its clients.
func redisCounters(t *testing.T, client *redis.Client) (replayCalls, outBytes int64) {
	t.Helper()
	ctx := context.Background()
	stats, err := client.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(stats))
	for sc.Scan() {
		// cmdstat_xrevrange:calls=1,usec=...
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || !(strings.HasPrefix(name, "cmdstat_xrange") || strings.HasPrefix(name, "cmdstat_xrevrange") || strings.HasPrefix(name, "cmdstat_xinfo")) {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, _ := strconv.ParseInt(calls, 10, 64)
		replayCalls += n
	}
	info, err := client.Info(ctx, "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_net_output_bytes:"); ok {
			outBytes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return replayCalls, outBytes
}

// TestClusterOldIDReplayIsBoundedAndAdmittedFirst: a Last-Event-ID of 1-0
// on a stream of 100,000 entries makes the node read from Redis no more
// than the channel's history (measured by Redis's own output bytes), and
// a client over its per-IP limit is refused before any Redis read.
func TestClusterOldIDReplayIsBoundedAndAdmittedFirst(t *testing.T) {
	const (
		entries   = 100_000
		history   = 50
		entrySize = 200
	)
	rd := startOwnRedis(t)
	prefix := clusterPrefix(t, rd.addr)
	client := redis.NewClient(&redis.Options{Addr: rd.addr})
	defer client.Close()
	ctx := context.Background()
	key := prefix + "hub:bounded"
	pad := strings.Repeat("x", entrySize)
	var lastID string
	for start := 0; start < entries; start += 5000 {
		pipe := client.Pipeline()
		var last *redis.StringCmd
		for i := start; i < start+5000; i++ {
			last = pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []string{"channels", "news", "type", "", "data", fmt.Sprintf("%d %s", i, pad)}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		lastID = last.Val()
	}
	loadCaddyfile(t, fmt.Sprintf(`
http://%s {
	sse_hub /events/* {
		hub bounded
		channel news {
			history_size %d
		}
		max_subscribers_per_ip 2
		redis %s {
			prefix %s
			max_len 200000
		}
	}
}`, siteAddr, history, rd.addr, prefix))
	// The node reads the whole stream at start; wait until it has, so
	// what follows counts only the replay.
	waitFor(t, "node A to read the stream", 60*time.Second, func() bool {
		info, status := getChannel(t, "bounded", "news")
		return status == http.StatusOK && info.LastID == lastID
	})

	calls0, out0 := redisCounters(t, client)
	old := subscribe(t, "/events/news", http.Header{"Last-Event-Id": {"1-0"}})
	gap := old.next(t)
	if gap.Type != "sse_hub.gap" || !strings.Contains(gap.Data, `"reason":"expired"`) {
		t.Errorf("resuming from 1-0 with %d entries in Redis: first event %+v, want an expired gap", entries, gap)
	}
	evs := old.nextN(t, history)
	if first := strings.Fields(evs[0].Data)[0]; first != strconv.Itoa(entries-history) || evs[history-1].LastEventID != lastID {
		t.Errorf("replay from 1-0: data %s..%s, want the newest %d (from %d up to %s)", first, evs[history-1].LastEventID, history, entries-history, lastID)
	}
	calls1, out1 := redisCounters(t, client)
	// The two INFO answers and the follower's empty XREAD answers are a
	// few kB; reading even one page of 1,000 entries would be 200 kB.
	read := out1 - out0
	limit := int64(history*(entrySize+100) + 32<<10)
	t.Logf("replay from 1-0 over %d entries: %d Redis calls, %d bytes sent by Redis (history %d x ~%d bytes)", entries, calls1-calls0, read, history, entrySize)
	if read > limit {
		t.Errorf("replay from 1-0 made Redis send %d bytes; at most %d expected for %d entries of history", read, limit, history)
	}
	if calls1-calls0 > 3 {
		t.Errorf("replay from 1-0 took %d range/info calls, want at most 3", calls1-calls0)
	}

	// The per-IP limit (2) is reached with a second stream: the next one
	// is refused before Redis is asked anything.
	live := subscribe(t, "/events/news", nil)
	defer live.close()
	calls2, _ := redisCounters(t, client)
	s, status, body := trySubscribe(t, "/events/news", http.Header{"Last-Event-Id": {"1-0"}})
	if s != nil {
		s.close()
	}
	if status != http.StatusTooManyRequests {
		t.Errorf("a third stream from one IP (max 2): %d %s, want 429", status, body)
	}
	if calls3, _ := redisCounters(t, client); calls3 != calls2 {
		t.Errorf("the refused subscribe made %d range/info calls to Redis, want none", calls3-calls2)
	}
	old.close()
}
