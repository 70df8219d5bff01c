package hub

import (
	"sync"
	"testing"
	"time"
)

// A channel with more subscribers than wakeSlice is woken by the fanout
// goroutine: every subscriber is woken for every batch and reads every
// event, also while subscribers come and go during the passes.
func TestCrowdedChannelWakesEverySubscriber(t *testing.T) {
	h := startHub(t, testConfig("news"), nil)
	const n = 3*wakeSlice + 7
	subs := make([]*Subscriber, n)
	for i := range subs {
		subs[i] = subscribe(t, h, []string{"news"}, "")
	}
	if !h.channels["news"].crowded() {
		t.Fatalf("a channel of %d subscribers is not left to the fanout", n)
	}
	// Subscribers joining and leaving while the passes run.
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s, err := h.Subscribe(SubscribeRequest{Channels: []string{"news"}})
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		}
	}()
	const events = 5
	ids := publishN(t, h, events, "news")
	close(stop)
	churn.Wait()
	for i, s := range subs {
		got := waitEvents(t, s, events)
		if len(got) != events || got[0].LastEventID != ids[0] || got[events-1].LastEventID != ids[events-1] {
			t.Fatalf("subscriber %d got %d events (%+v), want %v", i, len(got), got, ids)
		}
	}
}

// A panic in a fanout pass is reported, and later publishes still wake
// the channel's subscribers.
func TestFanoutRecoversFromAPanic(t *testing.T) {
	var mu sync.Mutex
	var reports []Panic
	SetPanicHook(func(p Panic) { mu.Lock(); reports = append(reports, p); mu.Unlock() })
	t.Cleanup(func() { SetPanicHook(nil) })
	h := startHub(t, testConfig("news"), nil)
	subs := make([]*Subscriber, wakeSlice+1)
	for i := range subs {
		subs[i] = subscribe(t, h, []string{"news"}, "")
	}
	// A nil channel in the pending set makes the next pass panic.
	h.fanout.request(nil)
	waitFor(t, "the panic to be reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reports) == 1 && reports[0].Where == PanicFanout
	})
	publishOne(t, h, "news")
	deadline := time.Now().Add(10 * time.Second)
	for i, s := range subs {
		select {
		case <-s.Wake():
		case <-time.After(time.Until(deadline)):
			t.Fatalf("subscriber %d was not woken after the fanout's panic", i)
		}
	}
}
