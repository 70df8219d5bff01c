package hub

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// fakeClock is a controllable clock for newHub; safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_750_000_000_000).UTC()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testConfig declares the named channels with room for 100 events each.
func testConfig(channels ...string) Config {
	cfg := Config{
		Channels:            make(map[string]ChannelSettings),
		MaxOnDemandChannels: 10,
		OnDemandSettings:    ChannelSettings{HistorySize: 100},
		SubscriberBuffer:    100,
	}
	for _, name := range channels {
		cfg.Channels[name] = ChannelSettings{HistorySize: 100}
	}
	return cfg
}

// startHub starts a hub whose janitor never runs on its own (tests call
// Sweep) and closes it when the test ends.
func startHub(t testing.TB, cfg Config, clock *fakeClock) *Hub {
	t.Helper()
	if clock == nil {
		clock = newFakeClock()
	}
	h, err := newHub("test", cfg, clock.Now, time.Hour)
	if err != nil {
		t.Fatalf("newHub: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// publishOne publishes an event whose data is its own serial number, so a
// test can tell events apart, and returns the result.
func publishOne(t testing.TB, h *Hub, channels ...string) PublishResult {
	t.Helper()
	res, err := h.Publish(Draft{Channels: channels, Data: "event " + strconv.Itoa(serial()), Retry: NoRetry})
	if err != nil {
		t.Fatalf("Publish to %v: %v", channels, err)
	}
	if len(res) != 1 {
		t.Fatalf("Publish returned %d results", len(res))
	}
	return res[0]
}

var (
	serialMu sync.Mutex
	serialN  int
)

func serial() int {
	serialMu.Lock()
	defer serialMu.Unlock()
	serialN++
	return serialN
}

// publishN publishes n events to the channels and returns their IDs.
func publishN(t testing.TB, h *Hub, n int, channels ...string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = publishOne(t, h, channels...).ID.String()
	}
	return ids
}

func subscribe(t testing.TB, h *Hub, channels []string, lastEventID string) *Subscriber {
	t.Helper()
	s, err := h.Subscribe(SubscribeRequest{Channels: channels, LastEventID: lastEventID})
	if err != nil {
		t.Fatalf("Subscribe(%v, %q): %v", channels, lastEventID, err)
	}
	t.Cleanup(s.Close)
	return s
}

// drain reads everything Next has to give right now.
func drain(t testing.TB, s *Subscriber) []ssetest.Event {
	t.Helper()
	var events []ssetest.Event
	for {
		out, more, err := s.Next(nil, 64<<10)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		events = append(events, ssetest.ParseAll(string(out)).Events...)
		if !more {
			return events
		}
	}
}

// waitEvents reads until n events arrived, waiting on Wake with a deadline.
func waitEvents(t testing.TB, s *Subscriber, n int) []ssetest.Event {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	var events []ssetest.Event
	for {
		events = append(events, drain(t, s)...)
		if len(events) >= n {
			return events
		}
		select {
		case <-s.Wake():
		case <-deadline.C:
			t.Fatalf("got %d events before the deadline, want %d", len(events), n)
		}
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// waitDone waits for the hub to end s.
func waitDone(t testing.TB, s *Subscriber) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("subscription was not ended")
	}
}

func isDone(s *Subscriber) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

// notice is the JSON data of the hub's own events.
type notice struct {
	Channel     string `json:"channel"`
	Reason      string `json:"reason"`
	LastEventID string `json:"last_event_id"`
}

// split separates the hub's gap notices from real events, returning the
// notices and the IDs of the events in arrival order.
func split(t testing.TB, events []ssetest.Event) (gaps []notice, ids []string) {
	t.Helper()
	for _, e := range events {
		switch e.Type {
		case GapEvent:
			var n notice
			if err := json.Unmarshal([]byte(e.Data), &n); err != nil {
				t.Fatalf("gap notice data %q: %v", e.Data, err)
			}
			gaps = append(gaps, n)
		case ClosedEvent:
			t.Fatalf("unexpected closed notice %q", e.Data)
		default:
			ids = append(ids, e.LastEventID)
		}
	}
	return gaps, ids
}

// expectStream checks that events are exactly the gap notices and then
// the event IDs given.
func expectStream(t testing.TB, events []ssetest.Event, wantGaps []notice, wantIDs []string) {
	t.Helper()
	// Notices must come before any event.
	seenEvent := false
	for _, e := range events {
		if e.Type == GapEvent && seenEvent {
			t.Errorf("a gap notice came after an event")
		}
		seenEvent = seenEvent || e.Type != GapEvent
	}
	gaps, ids := split(t, events)
	if !slices.Equal(gaps, wantGaps) {
		t.Errorf("gap notices = %+v, want %+v", gaps, wantGaps)
	}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("event IDs = %v\nwant %v", ids, wantIDs)
	}
}

func channelNames(info HubInfo) []string {
	var names []string
	for _, c := range info.Channels {
		names = append(names, c.Name)
	}
	return names
}
