package hub

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// panickyBackend panics in its first Read, then serves one stored event.
type panickyBackend struct {
	reads atomic.Int32
	event StoredEvent
}

func (b *panickyBackend) Append(context.Context, []Draft) ([]ID, error) { return nil, nil }
func (b *panickyBackend) AppendAndRead(context.Context, []Draft, ID) ([]ID, []StoredEvent, error) {
	return nil, nil, nil
}
func (b *panickyBackend) Latest(context.Context, ID, ID, int) (RangePage, error) {
	return RangePage{}, nil
}
func (b *panickyBackend) HoldsBetween(context.Context, ID, ID) (bool, error) { return false, nil }
func (b *panickyBackend) Close() error                                       { return nil }
func (b *panickyBackend) Read(ctx context.Context, after ID) ([]StoredEvent, error) {
	if b.reads.Add(1) == 1 {
		panic("injected")
	}
	if after.Less(b.event.ID) {
		return []StoredEvent{b.event}, nil
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Millisecond):
	}
	return nil, nil
}

// A panic in the follower is reported, and the follower resumes.
func TestFollowerRecoversFromAPanic(t *testing.T) {
	var mu sync.Mutex
	var reports []Panic
	SetPanicHook(func(p Panic) { mu.Lock(); reports = append(reports, p); mu.Unlock() })
	t.Cleanup(func() { SetPanicHook(nil) })
	h, err := New("panicky", Config{Channels: map[string]ChannelSettings{"news": {HistorySize: 10}}, SubscriberBuffer: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	b := &panickyBackend{event: StoredEvent{ID: ID{Ms: uint64(time.Now().UnixMilli()) + 1000}, Draft: Draft{Channels: []string{"news"}, Data: "x", Retry: NoRetry}}}
	h.SetBackend(b, nil)
	deadline := time.Now().Add(10 * time.Second)
	for h.lastAppliedID() != b.event.ID {
		if time.Now().After(deadline) {
			t.Fatal("the follower did not resume after its panic")
		}
		time.Sleep(5 * time.Millisecond) // poll step under a deadline
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 1 || reports[0].Where != PanicRedisFollower || len(reports[0].Stack) == 0 {
		t.Fatalf("reports %+v, want one from %s with a stack", reports, PanicRedisFollower)
	}
}
