package hub

import (
	"strings"
	"testing"
	"time"
)

// kiloDraft is an event of about 1 KiB of data on the channels.
func kiloDraft(channels ...string) Draft {
	return Draft{Channels: channels, Data: strings.Repeat("x", 1000), Retry: NoRetry}
}

func TestMaxHistoryBytesEvictsOldestAcrossChannels(t *testing.T) {
	cfg := testConfig("a", "b") // 100 events of history each
	one := newEvent(kiloDraft("a"), ID{Ms: 1_750_000_000_000, Seq: 100}, time.Now()).size()
	cfg.MaxHistoryBytes = 10 * one
	h := startHub(t, cfg, nil)

	var ids []string
	for i := range 15 {
		ch := []string{"a", "b"}[i%2]
		res, err := h.Publish(kiloDraft(ch))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res[0].ID.String())
	}
	if used := h.history.used.Load(); used > cfg.MaxHistoryBytes {
		t.Errorf("history holds %d bytes, bound %d", used, cfg.MaxHistoryBytes)
	}
	if got := h.Stats().HistoryEvicted; got != 5 {
		t.Errorf("HistoryEvicted = %d, want 5", got)
	}
	// The five oldest (0-4) went, from both channels: a holds 6 8 10 12 14
	// and b 5 7 9 11 13.
	a := subscribe(t, h, []string{"a"}, ids[0])
	expectStream(t, drain(t, a), []notice{{Channel: "a", Reason: GapExpired, LastEventID: ids[0]}}, []string{ids[6], ids[8], ids[10], ids[12], ids[14]})
	b := subscribe(t, h, []string{"b"}, ids[1])
	expectStream(t, drain(t, b), []notice{{Channel: "b", Reason: GapExpired, LastEventID: ids[1]}}, []string{ids[5], ids[7], ids[9], ids[11], ids[13]})
	// Resuming after the last evicted event of b loses nothing.
	c := subscribe(t, h, []string{"b"}, ids[3])
	expectStream(t, drain(t, c), nil, []string{ids[5], ids[7], ids[9], ids[11], ids[13]})
}

// A live subscriber that had not read the events the bound evicted is
// told: it is a slow consumer (it resumes and gets the gap), never left
// to skip them silently.
func TestMaxHistoryBytesEvictionCutsUnreadSubscriber(t *testing.T) {
	cfg := testConfig("a")
	one := newEvent(kiloDraft("a"), ID{Ms: 1_750_000_000_000, Seq: 100}, time.Now()).size()
	cfg.MaxHistoryBytes = 5 * one
	h := startHub(t, cfg, nil)
	s := subscribe(t, h, []string{"a"}, "")
	for range 8 {
		if _, err := h.Publish(kiloDraft("a")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Next(nil, 1<<20); err != ErrSlowConsumer {
		t.Errorf("Next after unread events were evicted = %v, want ErrSlowConsumer", err)
	}
}

// Events that left their logs by age or by channel removal stop counting
// once the janitor has run, so they never keep newer events out.
func TestHistoryBytesFreedByAgeAndRemoval(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig("a")
	cfg.OnDemand = []string{"room:*"}
	cfg.Channels["a"] = ChannelSettings{HistorySize: 100, HistoryMaxAge: time.Minute}
	h := startHub(t, cfg, clock)
	for range 10 {
		if _, err := h.Publish(kiloDraft("a")); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Publish(kiloDraft("room:1")); err != nil {
			t.Fatal(err)
		}
	}
	if h.history.used.Load() == 0 {
		t.Fatal("nothing counted")
	}
	if err := h.CloseChannel("room:1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	h.Sweep()
	if used, dead := h.history.used.Load(), h.history.dead.Load(); used != 0 || dead != 0 {
		t.Errorf("after aging out and removal: used %d, dead %d; want 0, 0", used, dead)
	}
}
