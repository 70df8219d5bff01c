package hub

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

func TestNewValidates(t *testing.T) {
	good := testConfig("a")
	tests := []struct {
		name    string
		hubName string
		cfg     func(c *Config)
	}{
		{"bad hub name", "my hub", func(c *Config) {}},
		{"empty hub name", "", func(c *Config) {}},
		{"bad channel name", "h", func(c *Config) { c.Channels["a b"] = ChannelSettings{} }},
		{"negative history", "h", func(c *Config) { c.Channels["a"] = ChannelSettings{HistorySize: -1} }},
		{"negative age", "h", func(c *Config) { c.Channels["a"] = ChannelSettings{HistoryMaxAge: -time.Second} }},
		{"bad pattern", "h", func(c *Config) { c.OnDemand = []string{"room/*"} }},
		{"negative on-demand max", "h", func(c *Config) { c.MaxOnDemandChannels = -1 }},
		{"zero subscriber buffer", "h", func(c *Config) { c.SubscriberBuffer = 0 }},
		{"bad on-demand settings", "h", func(c *Config) { c.OnDemandSettings.HistorySize = -5 }},
	}
	for _, tt := range tests {
		cfg := testConfig("a")
		tt.cfg(&cfg)
		if h, err := New(tt.hubName, cfg); !errors.Is(err, ErrInvalid) {
			if h != nil {
				h.Close()
			}
			t.Errorf("%s: New = %v, want ErrInvalid", tt.name, err)
		}
	}
	h, err := New("good", good)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Name() != "good" {
		t.Errorf("Name() = %q", h.Name())
	}
}

func TestPublishBatch(t *testing.T) {
	cfg := testConfig("a", "b")
	cfg.OnDemand = []string{"room:*"}
	h := startHub(t, cfg, nil)
	s := subscribe(t, h, []string{"a", "b"}, "")

	res, err := h.Publish(
		Draft{Channels: []string{"a"}, Data: "1", Retry: NoRetry},
		Draft{Channels: []string{"b", "a"}, Data: "2", Retry: NoRetry},
		Draft{Channels: []string{"b"}, Data: "3", Retry: NoRetry},
	)
	if err != nil || len(res) != 3 {
		t.Fatalf("Publish = %v, %v", res, err)
	}
	for i := 1; i < len(res); i++ {
		if want := (ID{Ms: res[i-1].ID.Ms, Seq: res[i-1].ID.Seq + 1}); res[i].ID != want {
			t.Errorf("batch IDs %v then %v are not consecutive", res[i-1].ID, res[i].ID)
		}
	}
	events := waitEvents(t, s, 3)
	expectStream(t, events, nil, []string{res[0].ID.String(), res[1].ID.String(), res[2].ID.String()})
	for i, e := range events {
		if e.Data != string(rune('1'+i)) {
			t.Errorf("event %d data = %q: the batch was reordered", i, e.Data)
		}
	}

	infoBefore := h.Info()
	lastBefore := h.lastAppliedID()
	bad := []struct {
		name   string
		drafts []Draft
		is     error
		says   string
	}{
		{"one invalid draft", []Draft{
			{Channels: []string{"a"}, Data: "ok", Retry: NoRetry},
			{Channels: []string{"a"}, Type: "bad\ntype", Data: "x", Retry: NoRetry},
			{Channels: []string{"b"}, Data: "ok", Retry: NoRetry},
		}, ErrInvalid, "event 1"},
		{"invalid UTF-8 last", []Draft{
			{Channels: []string{"a"}, Data: "ok", Retry: NoRetry},
			{Channels: []string{"a"}, Data: "\xff", Retry: NoRetry},
		}, ErrInvalid, "event 1"},
		{"unknown channel", []Draft{
			{Channels: []string{"a"}, Data: "ok", Retry: NoRetry},
			{Channels: []string{"nope"}, Data: "x", Retry: NoRetry},
		}, ErrNotFound, `"nope"`},
		{"on-demand channel next to an unknown one", []Draft{
			{Channels: []string{"room:1"}, Data: "ok", Retry: NoRetry},
			{Channels: []string{"a", "nope"}, Data: "x", Retry: NoRetry},
		}, ErrNotFound, `"nope"`},
	}
	for _, tt := range bad {
		res, err := h.Publish(tt.drafts...)
		if !errors.Is(err, tt.is) || res != nil {
			t.Errorf("%s: Publish = %v, %v; want %v", tt.name, res, err, tt.is)
		} else if !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: error %q does not say %s", tt.name, err, tt.says)
		}
	}
	if got := h.Info(); !slices.Equal(channelNames(got), channelNames(infoBefore)) || got.LastID != infoBefore.LastID {
		t.Errorf("a failed batch changed the hub: %+v, was %+v", got, infoBefore)
	}
	for _, ch := range []string{"a", "b"} {
		if info, _ := h.ChannelInfo(ch); info.Published != 2 {
			t.Errorf("channel %s counts %d published events after failed batches, want 2", ch, info.Published)
		}
	}
	if h.lastAppliedID() != lastBefore {
		t.Errorf("a failed batch used IDs")
	}
	expectStream(t, drain(t, s), nil, nil)

	if res, err := h.Publish(); err != nil || len(res) != 0 {
		t.Errorf("empty Publish = %v, %v", res, err)
	}
	if _, err := h.Publish(Draft{Channels: []string{"a"}, Type: "a\rb", Retry: NoRetry}); !errors.Is(err, ErrInvalid) {
		t.Errorf("single invalid draft: %v", err)
	}
}

func TestOnDemandChannels(t *testing.T) {
	cfg := testConfig("news")
	cfg.OnDemand = []string{"room:*", "*:log"}
	cfg.MaxOnDemandChannels = 2
	h := startHub(t, cfg, nil)
	names := func() []string { return channelNames(h.Info()) }

	s := subscribe(t, h, []string{"room:1"}, "")
	publishOne(t, h, "app:log")
	subscribe(t, h, []string{"app:log"}, "") // in use: not reclaimable
	if got := names(); !slices.Equal(got, []string{"app:log", "news", "room:1"}) {
		t.Fatalf("channels = %v", got)
	}
	if info, _ := h.ChannelInfo("room:1"); info.Declared {
		t.Errorf("room:1 reported as declared")
	}

	for _, req := range [][]string{{"nope"}, {"room:1", "room:9", "nope"}, {"news", "Room:1"}} {
		if _, err := h.Subscribe(SubscribeRequest{Channels: req}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Subscribe(%v) = %v, want ErrNotFound", req, err)
		}
		if _, err := h.Publish(Draft{Channels: req, Retry: NoRetry}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Publish to %v = %v, want ErrNotFound", req, err)
		}
	}
	for _, req := range [][]string{{"room:2"}, {"news", "room:3"}, {"room:1", "x:log"}} {
		_, err := h.Subscribe(SubscribeRequest{Channels: req})
		if !errors.Is(err, ErrOnDemandLimit) {
			t.Errorf("Subscribe(%v) at the limit = %v, want ErrOnDemandLimit", req, err)
		} else if !strings.Contains(err.Error(), "2") {
			t.Errorf("limit error %q does not say the maximum", err)
		}
		if _, err := h.Publish(Draft{Channels: req, Retry: NoRetry}); !errors.Is(err, ErrOnDemandLimit) {
			t.Errorf("Publish to %v at the limit = %v, want ErrOnDemandLimit", req, err)
		}
	}
	if got := names(); !slices.Equal(got, []string{"app:log", "news", "room:1"}) {
		t.Fatalf("failed requests created channels: %v", got)
	}

	// Freeing one slot is not enough for a request that needs two.
	if err := h.CloseChannel("app:log"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(SubscribeRequest{Channels: []string{"room:a", "room:b"}}); !errors.Is(err, ErrOnDemandLimit) {
		t.Errorf("two new channels with one free slot: %v, want ErrOnDemandLimit", err)
	}
	if got := names(); !slices.Equal(got, []string{"news", "room:1"}) {
		t.Fatalf("half-created: %v", got)
	}
	subscribe(t, h, []string{"room:1", "room:2", "news"}, "")
	if got := names(); !slices.Equal(got, []string{"news", "room:1", "room:2"}) {
		t.Fatalf("channels = %v", got)
	}

	// On-demand channels carry events like declared ones.
	id := publishOne(t, h, "room:1").ID.String()
	expectStream(t, waitEvents(t, s, 1), nil, []string{id})
}

func TestPublishedSubscribersCountsDistinct(t *testing.T) {
	h := startHub(t, testConfig("a", "b", "c"), nil)
	s1 := subscribe(t, h, []string{"a"}, "")
	subscribe(t, h, []string{"a", "b"}, "")
	subscribe(t, h, []string{"b"}, "")
	subscribe(t, h, []string{"b", "a", "b"}, "")

	tests := []struct {
		channels []string
		want     int
	}{
		{[]string{"a", "b"}, 4},
		{[]string{"b", "a"}, 4},
		{[]string{"a"}, 3},
		{[]string{"b"}, 3},
		{[]string{"c"}, 0},
		{[]string{"a", "c"}, 3},
	}
	for _, tt := range tests {
		if got := publishOne(t, h, tt.channels...).Subscribers; got != tt.want {
			t.Errorf("publish to %v reached %d subscribers, want %d", tt.channels, got, tt.want)
		}
	}
	s1.Close()
	if got := publishOne(t, h, "a").Subscribers; got != 2 {
		t.Errorf("after one subscriber closed: %d, want 2", got)
	}
	if got := publishOne(t, h, "a", "b", "c").Subscribers; got != 3 {
		t.Errorf("publish to all: %d, want 3", got)
	}
}

func TestCloseDeclaredChannel(t *testing.T) {
	h := startHub(t, testConfig("a", "b"), nil)
	ids := publishN(t, h, 2, "a")
	onA := subscribe(t, h, []string{"a"}, "")
	onAB := subscribe(t, h, []string{"a", "b"}, "")
	onB := subscribe(t, h, []string{"b"}, "")

	if err := h.CloseChannel("a"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Subscriber{onA, onAB} {
		waitDone(t, s)
		end := ssetest.ParseAll(string(s.EndFrame())).Events
		if len(end) != 1 || end[0].Type != ClosedEvent || end[0].Data != `{"channel":"a"}` || end[0].LastEventID != "" {
			t.Errorf("EndFrame = %#v, want one %s naming a, without an id", end, ClosedEvent)
		}
	}
	if isDone(onB) {
		t.Error("a subscriber of another channel was ended")
	}

	// The channel and its history stay; new subscribers replay it.
	info, err := h.ChannelInfo("a")
	if err != nil || !info.Declared || info.HistoryLength != 2 || info.Subscribers != 0 {
		t.Fatalf("after CloseChannel: %+v, %v", info, err)
	}
	s := subscribe(t, h, []string{"a"}, ids[0])
	expectStream(t, drain(t, s), nil, ids[1:])
	if got := publishOne(t, h, "a").Subscribers; got != 1 {
		t.Errorf("publish after close reached %d subscribers, want the 1 new one", got)
	}

	if err := h.CloseChannel("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CloseChannel(missing) = %v, want ErrNotFound", err)
	}
}

func TestCloseOnDemandChannel(t *testing.T) {
	cfg := testConfig()
	cfg.OnDemand = []string{"room:*"}
	h := startHub(t, cfg, nil)
	ids := publishN(t, h, 2, "room:1")
	s := subscribe(t, h, []string{"room:1"}, "")

	if err := h.CloseChannel("room:1"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, s)
	if end := ssetest.ParseAll(string(s.EndFrame())).Events; len(end) != 1 || end[0].Type != ClosedEvent || end[0].Data != `{"channel":"room:1"}` {
		t.Errorf("EndFrame = %#v", end)
	}
	if _, err := h.ChannelInfo("room:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("closed on-demand channel still there: %v", err)
	}
	if err := h.CloseChannel("room:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second CloseChannel = %v, want ErrNotFound", err)
	}

	// Recreated empty: its old history is gone and a resuming client is told.
	s2 := subscribe(t, h, []string{"room:1"}, ids[0])
	expectStream(t, drain(t, s2), []notice{{Channel: "room:1", Reason: GapExpired, LastEventID: ids[0]}}, nil)
	expectStream(t, drain(t, subscribe(t, h, []string{"room:1"}, ids[1])), nil, nil)
}

func TestHubClose(t *testing.T) {
	cfg := testConfig("a", "b")
	cfg.OnDemand = []string{"room:*"}
	h, err := newHub("closing", cfg, newFakeClock().Now, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	subs := []*Subscriber{
		subscribe(t, h, []string{"a"}, ""),
		subscribe(t, h, []string{"a", "b"}, ""),
		subscribe(t, h, []string{"room:1"}, ""),
	}
	h.Close()
	select {
	case <-h.janitorDone:
	default:
		t.Error("Close returned before the janitor stopped")
	}
	for _, s := range subs {
		waitDone(t, s)
		if f := s.EndFrame(); f != nil {
			t.Errorf("EndFrame after hub shutdown = %q, want none so the client reconnects", f)
		}
	}
	if _, err := h.Publish(Draft{Channels: []string{"a"}, Retry: NoRetry}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	for _, chans := range [][]string{{"a"}, {"room:2"}} {
		if _, err := h.Subscribe(SubscribeRequest{Channels: chans}); !errors.Is(err, ErrClosed) {
			t.Errorf("Subscribe(%v) after Close = %v, want ErrClosed", chans, err)
		}
	}
	h.Close() // twice is fine
}

func TestSubscriberClose(t *testing.T) {
	h := startHub(t, testConfig("a"), nil)
	s := subscribe(t, h, []string{"a"}, "")
	s.Close()
	s.Close()
	waitDone(t, s)
	if f := s.EndFrame(); f != nil {
		t.Errorf("EndFrame after the client's own Close = %q", f)
	}
	if got := publishOne(t, h, "a").Subscribers; got != 0 {
		t.Errorf("closed subscriber still counted: %d", got)
	}
	if _, err := h.Subscribe(SubscribeRequest{Channels: nil}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Subscribe to no channel = %v", err)
	}
	if _, err := h.Subscribe(SubscribeRequest{Channels: []string{"a", "b c"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Subscribe to a bad name = %v", err)
	}
}

func TestConfigure(t *testing.T) {
	cfg := testConfig()
	cfg.Channels = map[string]ChannelSettings{"a": {HistorySize: 5}, "b": {HistorySize: 5}, "x": {HistorySize: 5}}
	cfg.OnDemand = []string{"room:*"}
	h := startHub(t, cfg, nil)
	aIDs := publishN(t, h, 4, "a")
	bIDs := publishN(t, h, 2, "b")
	roomIDs := publishN(t, h, 2, "room:1")
	xIDs := publishN(t, h, 1, "x")
	onA := subscribe(t, h, []string{"a"}, "")
	onX := subscribe(t, h, []string{"x", "b"}, "")
	onRoom := subscribe(t, h, []string{"room:1"}, "")
	lastBefore := h.lastAppliedID()

	next := testConfig()
	next.Channels = map[string]ChannelSettings{"a": {HistorySize: 2}, "c": {HistorySize: 5}}
	next.OnDemand = []string{"room:*", "b"}
	if err := h.Configure(next); err != nil {
		t.Fatal(err)
	}

	info := h.Info()
	got := map[string]bool{}
	for _, c := range info.Channels {
		got[c.Name] = c.Declared
	}
	if want := map[string]bool{"a": true, "b": false, "c": true, "room:1": false}; len(got) != len(want) || got["a"] != true || got["b"] || got["c"] != true || got["room:1"] {
		t.Errorf("channels after Configure = %v, want %v", got, want)
	}

	// x is gone: its subscribers were told.
	waitDone(t, onX)
	if end := ssetest.ParseAll(string(onX.EndFrame())).Events; len(end) != 1 || end[0].Type != ClosedEvent || end[0].Data != `{"channel":"x"}` {
		t.Errorf("x subscriber EndFrame = %#v", end)
	}
	if isDone(onA) || isDone(onRoom) {
		t.Error("subscribers of kept channels were ended")
	}

	// a keeps its newest 2 events; b and room:1 keep all of theirs.
	expectStream(t, drain(t, subscribe(t, h, []string{"a"}, aIDs[0])),
		[]notice{{Channel: "a", Reason: GapExpired, LastEventID: aIDs[0]}}, aIDs[2:])
	expectStream(t, drain(t, subscribe(t, h, []string{"a"}, aIDs[2])), nil, aIDs[3:])
	expectStream(t, drain(t, subscribe(t, h, []string{"b"}, bIDs[0])), nil, bIDs[1:])
	expectStream(t, drain(t, subscribe(t, h, []string{"room:1"}, roomIDs[0])), nil, roomIDs[1:])

	// c is new: a client that saw an older ID cannot know what it missed.
	expectStream(t, drain(t, subscribe(t, h, []string{"c"}, aIDs[0])),
		[]notice{{Channel: "c", Reason: GapExpired, LastEventID: aIDs[0]}}, nil)
	expectStream(t, drain(t, subscribe(t, h, []string{"c"}, xIDs[0])), nil, nil)

	// IDs go on from where they were; live subscribers keep receiving.
	p := publishOne(t, h, "a", "c")
	if !lastBefore.Less(p.ID) {
		t.Errorf("ID after Configure %v is not after %v", p.ID, lastBefore)
	}
	expectStream(t, waitEvents(t, onA, 1), nil, []string{p.ID.String()})
	if _, err := h.Publish(Draft{Channels: []string{"x"}, Retry: NoRetry}); !errors.Is(err, ErrNotFound) {
		t.Errorf("publish to removed channel x: %v", err)
	}

	// An invalid config changes nothing.
	bad := next
	bad.SubscriberBuffer = 0
	if err := h.Configure(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("Configure(invalid) = %v", err)
	}
	if n := len(h.Info().Channels); n != 4 {
		t.Errorf("invalid Configure changed the channels: %d", n)
	}

	// Without the pattern, on-demand channels close.
	final := testConfig("a")
	if err := h.Configure(final); err != nil {
		t.Fatal(err)
	}
	waitDone(t, onRoom)
	if got := channelNames(h.Info()); !slices.Equal(got, []string{"a"}) {
		t.Errorf("channels = %v, want [a]", got)
	}
	// b was on-demand and was removed: the count of on-demand channels
	// must not drift, or the limit would be wrong.
	if h.onDemand != 0 {
		t.Errorf("on-demand count = %d after all on-demand channels left", h.onDemand)
	}
}

func TestOnDemandCountAcrossConfigure(t *testing.T) {
	cfg := testConfig("a")
	cfg.OnDemand = []string{"*"}
	cfg.MaxOnDemandChannels = 1
	h := startHub(t, cfg, nil)
	subscribe(t, h, []string{"r1"}, "")

	// r1 becomes declared: it no longer counts against the limit.
	next := testConfig("a", "r1")
	next.OnDemand = []string{"*"}
	next.MaxOnDemandChannels = 1
	if err := h.Configure(next); err != nil {
		t.Fatal(err)
	}
	subscribe(t, h, []string{"r2"}, "")
	if _, err := h.Subscribe(SubscribeRequest{Channels: []string{"r3"}}); !errors.Is(err, ErrOnDemandLimit) {
		t.Errorf("second on-demand channel with a limit of 1: %v", err)
	}
	// a stops being declared and becomes on-demand: now two count.
	last := testConfig("r1")
	last.OnDemand = []string{"*"}
	last.MaxOnDemandChannels = 3
	if err := h.Configure(last); err != nil {
		t.Fatal(err)
	}
	subscribe(t, h, []string{"r3"}, "")
	subscribe(t, h, []string{"a"}, "") // in use: not reclaimable
	if _, err := h.Subscribe(SubscribeRequest{Channels: []string{"r4"}}); !errors.Is(err, ErrOnDemandLimit) {
		t.Errorf("fourth on-demand channel (a, r2, r3 exist) with a limit of 3: %v", err)
	}
}

func TestSweep(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Channels["a"] = ChannelSettings{HistorySize: 2}
	cfg.SubscriberBuffer = 8
	cfg.OnDemand = []string{"room:*", "idle:*"}
	cfg.OnDemandSettings = ChannelSettings{HistorySize: 10, HistoryMaxAge: time.Minute}
	h := startHub(t, cfg, clock)

	// With nobody subscribed the live buffer beyond the history goes.
	publishN(t, h, 8, "a")
	h.Sweep()
	if n := h.channels["a"].log.len(); n != 2 {
		t.Errorf("unsubscribed channel holds %d events after Sweep, want its history 2", n)
	}
	// A subscriber that has not read yet keeps its unread events.
	s := subscribe(t, h, []string{"a"}, "")
	ids := publishN(t, h, 8, "a")
	h.Sweep()
	expectStream(t, drain(t, s), nil, ids)

	// On-demand channels go once idle and empty; declared ones stay.
	subscribe(t, h, []string{"idle:1"}, "").Close()
	publishOne(t, h, "room:1")
	withSub := subscribe(t, h, []string{"room:2"}, "")
	h.Sweep()
	if got := channelNames(h.Info()); !slices.Equal(got, []string{"a", "room:1", "room:2"}) {
		t.Errorf("after Sweep: %v", got)
	}
	clock.Advance(2 * time.Minute)
	h.Sweep()
	if got := channelNames(h.Info()); !slices.Equal(got, []string{"a", "room:2"}) {
		t.Errorf("after history expired: %v", got)
	}
	withSub.Close()
	h.Sweep()
	if got := channelNames(h.Info()); !slices.Equal(got, []string{"a"}) {
		t.Errorf("after the last subscriber left: %v", got)
	}
	if h.onDemand != 0 {
		t.Errorf("on-demand count = %d", h.onDemand)
	}
}

// The janitor sweeps on its own.
func TestJanitorRuns(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.OnDemand = []string{"room:*"}
	cfg.OnDemandSettings = ChannelSettings{HistorySize: 10, HistoryMaxAge: time.Second}
	h, err := newHub("janitor", cfg, clock.Now, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	publishOne(t, h, "room:1")
	clock.Advance(2 * time.Second)
	waitFor(t, "the janitor to remove the expired on-demand channel", func() bool {
		_, err := h.ChannelInfo("room:1")
		return errors.Is(err, ErrNotFound)
	})
}

func TestInfo(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig("b", "a")
	cfg.Channels["a"] = ChannelSettings{HistorySize: 5, HistoryMaxAge: time.Hour}
	h := startHub(t, cfg, clock)
	if info := h.Info(); info.Name != "test" || info.LastID != "" || !slices.Equal(channelNames(info), []string{"a", "b"}) {
		t.Errorf("fresh hub Info = %+v", info)
	}
	publishOne(t, h, "a")
	clock.Advance(time.Second)
	last := publishOne(t, h, "a", "b")
	subscribe(t, h, []string{"a"}, "")

	info := h.Info()
	if info.LastID != last.ID.String() {
		t.Errorf("LastID = %q, want %v", info.LastID, last.ID)
	}
	a := info.Channels[0]
	want := ChannelInfo{Name: "a", Declared: true, Subscribers: 1, Published: 2, HistoryLength: 2, HistorySize: 5,
		HistoryMaxAge: "1h0m0s", LastID: last.ID.String(), OldestEventAt: clock.Now().Add(-time.Second)}
	if a != want {
		t.Errorf("ChannelInfo(a) = %+v\nwant %+v", a, want)
	}
	if _, err := h.ChannelInfo("zzz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ChannelInfo(zzz) = %v", err)
	}
}

// BUG: newHub sets lastID just below startID and Publish takes nextID of
// it, so if the clock steps back after the hub started, the first events
// get IDs below startID. A client resuming with such an ID (which it did
// receive) is then told its history expired, and Info hides the last ID.
func TestClockStepBackAfterStartNoSpuriousGap(t *testing.T) {
	clock := newFakeClock()
	h := startHub(t, testConfig("a"), clock)
	clock.Advance(-2 * time.Second) // e.g. an NTP step right after start
	ids := publishN(t, h, 3, "a")

	for i, id := range ids {
		parsed, _ := ParseID(id)
		if parsed.Less(h.startID) {
			t.Errorf("event ID %s is below the hub's start ID %v", id, h.startID)
		}
		s := subscribe(t, h, []string{"a"}, id)
		expectStream(t, drain(t, s), nil, ids[i+1:])
	}
	if info := h.Info(); info.LastID != ids[2] {
		t.Errorf("Info().LastID = %q, want %s", info.LastID, ids[2])
	}
}

// At max_on_demand_channels, the least recently used on-demand channel
// without subscribers is reclaimed with its history, so new names are
// never locked out for good.
func TestOnDemandReclaimsLeastRecentlyUsed(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.OnDemand = []string{"*"}
	cfg.MaxOnDemandChannels = 2
	h := startHub(t, cfg, clock)
	publishOne(t, h, "x1")
	clock.Advance(time.Second)
	publishOne(t, h, "x2")
	clock.Advance(time.Second)
	publishOne(t, h, "x1") // x2 is now the least recently used
	clock.Advance(time.Second)
	publishOne(t, h, "x3")
	if got := channelNames(h.Info()); !slices.Equal(got, []string{"x1", "x3"}) {
		t.Errorf("channels = %v, want x2 reclaimed", got)
	}
	subscribe(t, h, []string{"x1"}, "")
	subscribe(t, h, []string{"x3"}, "")
	if _, err := h.Subscribe(SubscribeRequest{Channels: []string{"x4"}}); !errors.Is(err, ErrOnDemandLimit) {
		t.Errorf("every on-demand channel has subscribers: %v, want ErrOnDemandLimit", err)
	}
}
