package ssehub

import (
	"context"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// waitsFor runs wait in the background and fails unless it reports want
// within a few seconds. A wake for events on the way is allowed (the hub
// ending a subscription also wakes it, and a select may pick either).
func waitsFor(t *testing.T, w streamWaiter, want woke, what string) {
	t.Helper()
	got := make(chan woke, 1)
	go func() {
		for {
			if g := w.wait(); g != wokeEvents || want == wokeEvents {
				got <- g
				return
			}
		}
	}()
	select {
	case g := <-got:
		if g != want {
			t.Fatalf("%s: woke for %d, want %d", what, g, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still waiting after 5s", what)
	}
}

// TestStreamWaitersWakeForEverySignal: both ways of waiting report each
// thing a stream waits for, the unload once, and the hub's end of the
// subscription.
func TestStreamWaitersWakeForEverySignal(t *testing.T) {
	for _, proto := range []int{1, 2} {
		hb, err := hub.New("waiters", hub.Config{Channels: map[string]hub.ChannelSettings{"news": {HistorySize: 10}}, SubscriberBuffer: 64})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := hb.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}})
		if err != nil {
			t.Fatal(err)
		}
		client, leave := context.WithCancel(context.Background())
		exiting, exit := context.WithCancel(context.Background())
		config, unload := context.WithCancel(context.Background())
		w := newStreamWaiter(proto, sub, client, exiting, config)

		if _, err := hb.Publish(hub.Draft{Channels: []string{"news"}, Data: "x"}); err != nil {
			t.Fatal(err)
		}
		waitsFor(t, w, wokeEvents, "a publish")
		w.arm(time.Now().Add(10 * time.Millisecond))
		waitsFor(t, w, wokeTimer, "the timer")
		unload()
		waitsFor(t, w, wokeUnloaded, "the unload")
		w.arm(time.Now().Add(10 * time.Millisecond))
		waitsFor(t, w, wokeTimer, "the timer after the unload (reported once)")
		leave()
		waitsFor(t, w, wokeClientGone, "the client leaving")
		w.stop()
		exit()
		sub.Close()

		// A fresh stream: Caddy exiting, then the hub ending it.
		sub2, err := hb.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}})
		if err != nil {
			t.Fatal(err)
		}
		w2 := newStreamWaiter(proto, sub2, context.Background(), exiting, context.Background())
		waitsFor(t, w2, wokeExiting, "Caddy exiting")
		w2.stop()
		w3 := newStreamWaiter(proto, sub2, context.Background(), context.Background(), context.Background())
		if err := hb.CloseChannel("news"); err != nil {
			t.Fatal(err)
		}
		waitsFor(t, w3, wokeClosed, "the hub closing the channel")
		w3.stop()
		sub2.Close()
		hb.Close()
	}
}
