package hub

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSubscriberLimits(t *testing.T) {
	cfg := testConfig("a", "b")
	cfg.Limits = Limits{MaxSubscribers: 3, MaxSubscribersPerChannel: 2, MaxSubscribersPerClient: 2}
	h := startHub(t, cfg, nil)
	open := func(client string, channels ...string) (*Subscriber, error) {
		s, err := h.Subscribe(SubscribeRequest{Channels: channels, Client: client})
		if err == nil {
			t.Cleanup(s.Close)
		}
		return s, err
	}

	first, err := open("ip1", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open("ip1", "a", "b"); err != nil {
		t.Fatal(err)
	}
	// Per client: ip1 has 2.
	if _, err := open("ip1", "b"); !errors.Is(err, ErrClientLimit) || !strings.Contains(err.Error(), "max_subscribers_per_ip") {
		t.Errorf("third stream of one client: %v, want ErrClientLimit naming the limit", err)
	}
	// Per channel: a has 2; refusing must not leave the stream on b.
	before, _ := h.ChannelInfo("b")
	if _, err := open("ip2", "a", "b"); !errors.Is(err, ErrOverCapacity) || !strings.Contains(err.Error(), "max_subscribers_per_channel") {
		t.Errorf("third subscriber of channel a: %v, want ErrOverCapacity naming the limit", err)
	}
	if after, _ := h.ChannelInfo("b"); after.Subscribers != before.Subscribers {
		t.Errorf("a refused stream stayed on b: %d subscribers, had %d", after.Subscribers, before.Subscribers)
	}
	if h.Subscribers() != 2 {
		t.Errorf("hub counts %d subscribers after a refusal, want 2", h.Subscribers())
	}
	// Per hub: one more fits, then the hub is full.
	if _, err := open("", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := open("ip3", "b"); !errors.Is(err, ErrOverCapacity) || !strings.Contains(err.Error(), "max_subscribers)") {
		t.Errorf("fourth subscriber of the hub: %v, want ErrOverCapacity naming max_subscribers", err)
	}
	// Closing gives the place back, once.
	first.Close()
	first.Close()
	if h.Subscribers() != 2 {
		t.Errorf("after a double Close the hub counts %d, want 2", h.Subscribers())
	}
	if _, err := open("ip1", "a"); err != nil {
		t.Errorf("after a close the client may open again: %v", err)
	}
}

func TestRequestSizeLimits(t *testing.T) {
	cfg := testConfig("a")
	cfg.Limits = Limits{MaxChannelsPerSubscriber: 2, MaxEventBytes: 10, MaxBatch: 2}
	h := startHub(t, cfg, nil)
	if _, err := h.Subscribe(SubscribeRequest{Channels: []string{"a", "x", "y"}}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "max_channels_per_subscriber") {
		t.Errorf("3 channels with a limit of 2: %v", err)
	}
	// Naming one channel twice counts once.
	if _, err := h.Subscribe(SubscribeRequest{Channels: []string{"a", "a"}}); err != nil {
		t.Errorf("a channel named twice: %v", err)
	}
	small := Draft{Channels: []string{"a"}, Data: "0123456789", Retry: NoRetry}
	big := Draft{Channels: []string{"a"}, Data: "0123456789!", Retry: NoRetry}
	if _, err := h.Publish(small, big); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "max_event_bytes") {
		t.Errorf("an 11-byte event with a limit of 10: %v", err)
	}
	if _, err := h.Publish(small, small, small); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "max_batch") {
		t.Errorf("a batch of 3 with a limit of 2: %v", err)
	}
	if info, _ := h.ChannelInfo("a"); info.Published != 0 {
		t.Errorf("refused publishes published %d events", info.Published)
	}
	if _, err := h.Publish(small, small); err != nil {
		t.Errorf("within the limits: %v", err)
	}
}

func TestLatestPolicySkipsToTheNewestEvent(t *testing.T) {
	cfg := testConfig()
	cfg.Channels["ticker"] = ChannelSettings{HistorySize: 10, SlowConsumer: Latest}
	cfg.Channels["news"] = ChannelSettings{HistorySize: 10}
	cfg.SubscriberBuffer = 3
	clock := newFakeClock()
	h := startHub(t, cfg, clock)
	s := subscribe(t, h, []string{"news", "ticker"}, "")
	ids := publishN(t, h, 5, "ticker")
	news := publishOne(t, h, "news").ID.String()
	h.Sweep() // the janitor sees the backlog over the buffer
	clock.Advance(DefaultSlowConsumerGrace + time.Second)
	h.Sweep() // and, the grace later, not smaller

	// Unread live ticker events over the buffer for longer than the
	// grace: the backlog goes, the newest stays, the news event is
	// untouched.
	expectStream(t, drain(t, s), []notice{{Channel: "ticker", Reason: GapSkipped}}, []string{ids[4], news})
	if s.Skipped != 4 {
		t.Errorf("Skipped = %d, want 4", s.Skipped)
	}
	// The subscriber is live again: the next events arrive normally.
	more := publishN(t, h, 2, "ticker")
	expectStream(t, drain(t, s), nil, more)
}

func TestDisconnectPolicyByBytes(t *testing.T) {
	cfg := testConfig("a")
	cfg.SubscriberBuffer = 1000
	cfg.Limits = Limits{SubscriberBufferBytes: 200}
	clock := newFakeClock()
	h := startHub(t, cfg, clock)
	s := subscribe(t, h, []string{"a"}, "")
	publish := func(n int) int {
		total := 0
		for range n {
			res, err := h.Publish(Draft{Channels: []string{"a"}, Data: strings.Repeat("x", 60), Retry: NoRetry})
			if err != nil {
				t.Fatal(err)
			}
			total += len("id: "+res[0].ID.String()+"\n") + len("data: \n") + 60 + 1
		}
		return total
	}
	if backlog := publish(2); backlog > 200 {
		t.Fatalf("test setup: 2 events are %d bytes, meant to fit in 200", backlog)
	}
	if _, _, err := s.Next(nil, 1<<20); err != nil {
		t.Fatalf("within the byte buffer: %v", err)
	}
	if backlog := publish(3); backlog <= 200 {
		t.Fatalf("test setup: 3 events are %d bytes, meant to exceed 200", backlog)
	}
	h.Sweep()
	clock.Advance(DefaultSlowConsumerGrace + time.Second)
	h.Sweep()
	if _, _, err := s.Next(nil, 1<<20); !errors.Is(err, ErrSlowConsumer) {
		t.Errorf("over the byte buffer: %v, want ErrSlowConsumer", err)
	}
}
