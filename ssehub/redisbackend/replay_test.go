package redisbackend

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// countingBackend counts the stream entries Redis returned to replays.
type countingBackend struct {
	*Backend
	entries atomic.Int64
	reads   atomic.Int64
}

func (c *countingBackend) Latest(ctx context.Context, after, notBefore hub.ID, count int) (hub.RangePage, error) {
	c.reads.Add(1)
	p, err := c.Backend.Latest(ctx, after, notBefore, count)
	c.entries.Add(int64(len(p.Events)))
	return p, err
}

func (c *countingBackend) HoldsBetween(ctx context.Context, after, before hub.ID) (bool, error) {
	c.reads.Add(1)
	held, err := c.Backend.HoldsBetween(ctx, after, before)
	if held {
		c.entries.Add(1)
	}
	return held, err
}

// replayNode is a hub on the stream of prefix whose channels replay at
// most history events (and none older than maxAge, if set).
func replayNode(t *testing.T, prefix string, history int, maxAge time.Duration, limits hub.Limits) (*hub.Hub, *countingBackend) {
	t.Helper()
	s := hub.ChannelSettings{HistorySize: history, HistoryMaxAge: maxAge}
	h, err := hub.New("test", hub.Config{
		Channels:         map[string]hub.ChannelSettings{"news": s, "chat": s},
		SubscriberBuffer: 100_000,
		Limits:           limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &countingBackend{Backend: newBackend(prefix, redisAddr, 0)}
	h.SetBackend(b, nil)
	t.Cleanup(h.Close)
	return h, b
}

// fill stores n events on news directly (as another node would), with IDs
// from Redis's clock, or from ms on if ms is not zero.
func fill(t *testing.T, prefix string, n int, ms uint64) []hub.ID {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	ctx := context.Background()
	ids := make([]hub.ID, 0, n)
	for start := 0; start < n; start += 1000 {
		pipe := client.Pipeline()
		var cmds []*redis.StringCmd
		for i := start; i < min(n, start+1000); i++ {
			args := &redis.XAddArgs{Stream: prefix + "hub:test", Values: []string{fieldChannels, "news", fieldType, "", fieldData, strconv.Itoa(i)}}
			if ms != 0 {
				args.ID = hub.ID{Ms: ms, Seq: uint64(i + 1)}.String()
			}
			cmds = append(cmds, pipe.XAdd(ctx, args))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			id, err := hub.ParseID(c.Val())
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

// TestReplayReadsAtMostTheHistory: resuming from 1-0 on a long stream
// reads no more entries than the channels' history, and says events were
// lost; resuming right before exactly history events says nothing.
func TestReplayReadsAtMostTheHistory(t *testing.T) {
	prefix := testPrefix(t)
	ids := fill(t, prefix, 20_000, 0)
	const history = 50
	h, b := replayNode(t, prefix, history, 0, hub.Limits{})
	// The follower reads the whole stream into the node's logs first; the
	// replays below must still come from Redis (the IDs are older than
	// what the node can vouch for).
	for _, c := range []struct {
		name     string
		resume   string
		wantGap  bool
		wantData int // data of the first event
	}{
		{"1-0", "1-0", true, len(ids) - history},
		{"before exactly the history", ids[len(ids)-history-1].String(), false, len(ids) - history},
		{"before one more than the history", ids[len(ids)-history-2].String(), true, len(ids) - history},
	} {
		b.entries.Store(0)
		b.reads.Store(0)
		sub, err := h.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, LastEventID: c.resume})
		if err != nil {
			t.Fatal(err)
		}
		n := history
		if c.wantGap {
			n++
		}
		got := collect(t, sub, n, 5*time.Second)
		sub.Close()
		if (got[0].Type == hub.GapEvent) != c.wantGap {
			t.Errorf("%s: first event %+v, gap notice wanted: %v", c.name, got[0], c.wantGap)
		}
		if c.wantGap {
			got = got[1:]
		}
		if got[0].Data != strconv.Itoa(c.wantData) || got[len(got)-1].LastEventID != ids[len(ids)-1].String() {
			t.Errorf("%s: replayed %s..%s, want data %d up to %v", c.name, got[0].Data, got[len(got)-1].LastEventID, c.wantData, ids[len(ids)-1])
		}
		if e := b.entries.Load(); b.reads.Load() == 0 || e > history+1 {
			t.Errorf("%s: %d reads returned %d entries from Redis; want at most %d (+1 to tell a gap)", c.name, b.reads.Load(), e, history)
		}
		if c.resume == "1-0" && b.entries.Load() > history {
			t.Errorf("1-0: %d entries read, want at most %d", b.entries.Load(), history)
		}
	}
}

// TestReplayReadsNothingOlderThanTheMaxAge: events older than the
// channels' history_max_age are not read, and the client hears of them.
func TestReplayReadsNothingOlderThanTheMaxAge(t *testing.T) {
	prefix := testPrefix(t)
	old := fill(t, prefix, 500, uint64(time.Now().Add(-time.Hour).UnixMilli()))
	recent := fill(t, prefix, 10, 0)
	h, b := replayNode(t, prefix, 1000, time.Minute, hub.Limits{})
	sub, err := h.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, LastEventID: old[0].String()})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := collect(t, sub, 11, 5*time.Second)
	if got[0].Type != hub.GapEvent || got[1].LastEventID != recent[0].String() || got[10].LastEventID != recent[9].String() {
		t.Errorf("resume from an hour ago: %+v", got)
	}
	if e := b.entries.Load(); e > 11 {
		t.Errorf("%d entries read from Redis; want the 10 recent ones (+1 to tell a gap)", e)
	}
}

// TestReplayAdmittedFirst: a client over its limit is refused before
// anything is read from Redis.
func TestReplayAdmittedFirst(t *testing.T) {
	prefix := testPrefix(t)
	fill(t, prefix, 3000, 0)
	h, b := replayNode(t, prefix, 50, 0, hub.Limits{MaxSubscribersPerClient: 1, MaxSubscribersPerChannel: 2})
	first, err := h.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, Client: "203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	other, err := h.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, Client: "203.0.113.8"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, c := range []struct {
		client string
		want   error
	}{{"203.0.113.7", hub.ErrClientLimit}, {"203.0.113.9", hub.ErrOverCapacity}} {
		_, err = h.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, Client: c.client, LastEventID: "1-0"})
		if !errors.Is(err, c.want) {
			t.Fatalf("client %s: %v, want %v", c.client, err, c.want)
		}
		if n := b.reads.Load(); n != 0 {
			t.Fatalf("client %s: refused after %d reads from Redis, want none", c.client, n)
		}
	}
	if n := h.Subscribers(); n != 2 {
		t.Errorf("%d subscribers counted after the refusals, want 2", n)
	}
}
