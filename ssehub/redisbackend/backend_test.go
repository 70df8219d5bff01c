package redisbackend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// redisAddr is the Redis server the tests use (.ci/run starts it).
const redisAddr = "127.0.0.1:6379"

// testPrefix returns a key prefix no other test uses, and deletes the
// keys under it when the test ends.
func testPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "ssehub-test-" + hex.EncodeToString(b) + ":"
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s does not answer (run .ci/run, which starts it): %v", redisAddr, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := client.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
		client.Close()
	})
	return prefix
}

func newBackend(prefix, addr string, maxLen int64) *Backend {
	return New(Config{Addrs: []string{addr}, Prefix: prefix, MaxLen: maxLen}, "test")
}

// node is one hub following the shared stream, as one Caddy node would.
func node(t *testing.T, prefix string, maxLen int64, channels ...string) *hub.Hub {
	t.Helper()
	cfg := hub.Config{
		Channels:            map[string]hub.ChannelSettings{},
		OnDemand:            []string{"room-*"},
		MaxOnDemandChannels: 10,
		OnDemandSettings:    hub.ChannelSettings{HistorySize: 1000},
		SubscriberBuffer:    100_000,
	}
	for _, name := range channels {
		cfg.Channels[name] = hub.ChannelSettings{HistorySize: 1000}
	}
	h, err := hub.New("test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.SetBackend(newBackend(prefix, redisAddr, maxLen), nil)
	t.Cleanup(h.Close)
	return h
}

func publish(t *testing.T, h *hub.Hub, data string, channels ...string) hub.ID {
	t.Helper()
	res, err := h.Publish(hub.Draft{Channels: channels, Data: data, Retry: hub.NoRetry})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return res[0].ID
}

// collect reads a subscriber until it has n events (notices included) or
// the deadline passes.
func collect(t *testing.T, s *hub.Subscriber, n int, within time.Duration) []ssetest.Event {
	t.Helper()
	deadline := time.After(within)
	var got []ssetest.Event
	for len(got) < n {
		out, more, err := s.Next(nil, 64<<10)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, ssetest.ParseAll(string(out)).Events...)
		if more || len(got) >= n {
			continue
		}
		select {
		case <-s.Wake():
		case <-deadline:
			t.Fatalf("got %d events within %v, want %d: %+v", len(got), within, n, got)
		}
	}
	return got
}

func TestAppendReadRange(t *testing.T) {
	prefix := testPrefix(t)
	b := newBackend(prefix, redisAddr, 0)
	defer b.Close()
	ctx := context.Background()
	drafts := []hub.Draft{
		{Channels: []string{"a"}, Data: "one", Retry: hub.NoRetry},
		{Channels: []string{"a", "b"}, Type: "update", Data: "two\nlines", Retry: 1500},
		{Channels: []string{"b"}, Data: "", Retry: hub.NoRetry},
	}
	ids, err := b.Append(ctx, drafts)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || !ids[0].Less(ids[1]) || !ids[1].Less(ids[2]) {
		t.Fatalf("IDs %v are not increasing", ids)
	}
	read, err := b.Read(ctx, hub.ID{})
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != 3 {
		t.Fatalf("read %d events, want 3", len(read))
	}
	for i, se := range read {
		if se.ID != ids[i] || !slices.Equal(se.Draft.Channels, drafts[i].Channels) || se.Draft.Type != drafts[i].Type ||
			se.Draft.Data != drafts[i].Data || se.Draft.Retry != drafts[i].Retry {
			t.Errorf("event %d read back as %+v, want %+v with ID %v", i, se, drafts[i], ids[i])
		}
	}
	page, err := b.Latest(ctx, ids[0], hub.ID{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 || page.Events[0].ID != ids[1] || page.Last != ids[2] || page.First != ids[0] || page.Trimmed {
		t.Fatalf("range after the first: %+v", page)
	}
	// Newest first: a count of 1 gets the last event, not the second.
	page, err = b.Latest(ctx, hub.ID{}, hub.ID{}, 1)
	if err != nil || len(page.Events) != 1 || page.Events[0].ID != ids[2] {
		t.Fatalf("latest 1 after zero: %+v, %v", page, err)
	}
	// notBefore is inclusive.
	page, err = b.Latest(ctx, hub.ID{}, ids[1], 10)
	if err != nil || len(page.Events) != 2 || page.Events[0].ID != ids[1] {
		t.Fatalf("latest not before the second: %+v, %v", page, err)
	}
	page, err = b.Latest(ctx, ids[2], hub.ID{}, 10)
	if err != nil || len(page.Events) != 0 || page.Last != ids[2] {
		t.Fatalf("range after the last: %+v, %v", page, err)
	}
	for _, c := range []struct {
		after, before hub.ID
		want          bool
	}{{hub.ID{}, ids[0], false}, {hub.ID{}, ids[1], true}, {ids[0], ids[1], false}, {ids[0], ids[2], true}, {ids[2], ids[0], false}} {
		if got, err := b.HoldsBetween(ctx, c.after, c.before); err != nil || got != c.want {
			t.Errorf("HoldsBetween(%v, %v) = %v, %v; want %v", c.after, c.before, got, err, c.want)
		}
	}
	// A hub that has stored nothing: an empty page, not an error.
	empty := New(Config{Addrs: []string{redisAddr}, Prefix: prefix}, "nothing")
	defer empty.Close()
	if page, err := empty.Latest(ctx, hub.ID{}, hub.ID{}, 10); err != nil || len(page.Events) != 0 || !page.Last.IsZero() {
		t.Fatalf("range of a missing stream: %+v, %v", page, err)
	}
}

func TestTrimmingIsReported(t *testing.T) {
	prefix := testPrefix(t)
	b := newBackend(prefix, redisAddr, 0)
	defer b.Close()
	ctx := context.Background()
	var ids []hub.ID
	for i := range 5 {
		got, err := b.Append(ctx, []hub.Draft{{Channels: []string{"a"}, Data: strconv.Itoa(i), Retry: hub.NoRetry}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	if err := b.commands.get().XTrimMaxLen(ctx, b.key, 2).Err(); err != nil {
		t.Fatal(err)
	}
	page, err := b.Latest(ctx, ids[0], hub.ID{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !page.Trimmed || page.First != ids[3] || len(page.Events) != 2 {
		t.Fatalf("after trimming to 2: %+v", page)
	}
}

func TestPublishOnOneNodeReachesAnother(t *testing.T) {
	prefix := testPrefix(t)
	a := node(t, prefix, 1000, "news", "chat")
	b := node(t, prefix, 1000, "news", "chat")
	sub, err := b.Subscribe(hub.SubscribeRequest{Channels: []string{"news", "chat", "room-1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	id1 := publish(t, a, "on news", "news")
	id2 := publish(t, a, "on both", "news", "chat")
	id3 := publish(t, a, "on a room", "room-1")
	got := collect(t, sub, 3, 5*time.Second)
	for i, want := range []struct {
		id   hub.ID
		data string
	}{{id1, "on news"}, {id2, "on both"}, {id3, "on a room"}} {
		if got[i].LastEventID != want.id.String() || got[i].Data != want.data {
			t.Errorf("event %d on node B: %+v, want id %v data %q", i, got[i], want.id, want.data)
		}
	}
}

// TestResumeOnAnotherNodeUnderLoad resumes many times on nodes that did
// not serve the client, while a third node publishes without pause, and
// checks each resumed stream gets every event after its ID exactly once,
// in order, however the range read and the follower interleave.
func TestResumeOnAnotherNodeUnderLoad(t *testing.T) {
	prefix := testPrefix(t)
	pub := node(t, prefix, 100_000, "news")
	var (
		mu  sync.Mutex
		ids []hub.ID // ids[i] carries data i
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			res, err := pub.Publish(hub.Draft{Channels: []string{"news"}, Data: strconv.Itoa(i), Retry: hub.NoRetry})
			if err != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
			mu.Lock()
			ids = append(ids, res[0].ID)
			mu.Unlock()
		}
	}()
	defer func() { close(stop); <-done }()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ids)
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() < 50 {
		if time.Now().After(deadline) {
			t.Fatal("publishing does not progress")
		}
		time.Sleep(time.Millisecond)
	}
	for round := range 8 {
		// A fresh node each round: its logs do not reach back, so the
		// first part comes from Redis and the rest from its own logs.
		other := node(t, prefix, 100_000, "news")
		mu.Lock()
		from := len(ids) - 40
		resume := ids[from]
		mu.Unlock()
		sub, err := other.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, LastEventID: resume.String()})
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, sub, 200, 10*time.Second)
		sub.Close()
		for i, ev := range got {
			if want := strconv.Itoa(from + 1 + i); ev.Data != want || ev.Type != "message" {
				t.Fatalf("round %d: event %d after %v is %+v, want data %s", round, i, resume, ev, want)
			}
		}
	}
}

func TestResumeWithAnIDNotAppliedHereYet(t *testing.T) {
	prefix := testPrefix(t)
	a := node(t, prefix, 1000, "news")
	b := node(t, prefix, 1000, "news")
	ctx := context.Background()
	other := newBackend(prefix, redisAddr, 1000)
	defer other.Close()
	// Store directly, as another node would, and resume on b at once with
	// the new ID: b's follower may not have applied it yet.
	for range 20 {
		ids, err := other.Append(ctx, []hub.Draft{{Channels: []string{"news"}, Data: "x", Retry: hub.NoRetry}})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := b.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, LastEventID: ids[0].String()})
		if err != nil {
			t.Fatal(err)
		}
		next := publish(t, a, "after", "news")
		got := collect(t, sub, 1, 5*time.Second)
		sub.Close()
		if got[0].LastEventID != next.String() || got[0].Data != "after" {
			t.Fatalf("after resuming at %v: %+v, want only %v", ids[0], got, next)
		}
	}
}

func TestGapOnlyWhenRedisLostTheEvents(t *testing.T) {
	prefix := testPrefix(t)
	a := node(t, prefix, 1000, "news")
	first := publish(t, a, "0", "news")
	for i := 1; i < 10; i++ {
		publish(t, a, strconv.Itoa(i), "news")
	}
	// A node started now resumes from the stream: no gap.
	b := node(t, prefix, 1000, "news")
	sub, err := b.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, LastEventID: first.String()})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, sub, 9, 5*time.Second)
	sub.Close()
	if got[0].Type == hub.GapEvent || got[0].Data != "1" || got[8].Data != "9" {
		t.Fatalf("resume from Redis: %+v", got)
	}
	// Once Redis trimmed them, the client is told.
	bk := newBackend(prefix, redisAddr, 0)
	defer bk.Close()
	if err := bk.commands.get().XTrimMaxLen(context.Background(), bk.key, 3).Err(); err != nil {
		t.Fatal(err)
	}
	c := node(t, prefix, 1000, "news")
	sub, err = c.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, LastEventID: first.String()})
	if err != nil {
		t.Fatal(err)
	}
	got = collect(t, sub, 4, 5*time.Second)
	sub.Close()
	if got[0].Type != hub.GapEvent || got[1].Data != "7" || got[3].Data != "9" {
		t.Fatalf("resume past trimmed events: %+v", got)
	}
}

func TestRedisDownFailsPublishAndRecovers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	h, err := hub.New("test", hub.Config{OnDemand: []string{"*"}, MaxOnDemandChannels: 10, SubscriberBuffer: 10, OnDemandSettings: hub.ChannelSettings{HistorySize: 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	states := make(chan hub.BackendState, 10)
	h.SetBackend(New(Config{Addrs: []string{addr}, Prefix: fmt.Sprintf("down-%d:", time.Now().UnixNano())}, "test"), func(s hub.BackendState) { states <- s })
	start := time.Now()
	_, err = h.Publish(hub.Draft{Channels: []string{"news"}, Data: "x", Retry: hub.NoRetry})
	if !errors.Is(err, hub.ErrUnavailable) {
		t.Fatalf("publish with Redis down: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("refusing took %v", took)
	}
	select {
	case s := <-states:
		if s.Up || s.Err == nil {
			t.Fatalf("first state %+v, want down with an error", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no state reported")
	}
	if attached, up := h.BackendStatus(); !attached || up {
		t.Fatalf("BackendState = %v, %v; want attached, down", attached, up)
	}
}
