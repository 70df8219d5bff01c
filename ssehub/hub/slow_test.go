package hub

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A latest channel whose unread events all aged out of history (and were
// swept) before the subscriber read again: Next took the newest event of
// an empty log and dereferenced nil, or divided by zero once the emptied
// ring was released.
func TestLatestAfterBacklogAgedOut(t *testing.T) {
	for _, tt := range []struct {
		name   string
		events int
	}{
		{"one event, ring kept", 1},
		{"many events, ring released", 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := testConfig()
			cfg.Channels["ticker"] = ChannelSettings{HistorySize: 100, HistoryMaxAge: 5 * time.Second, SlowConsumer: Latest}
			h := startHub(t, cfg, clock)
			s := subscribe(t, h, []string{"ticker"}, "")
			publishN(t, h, tt.events, "ticker")
			clock.Advance(10 * time.Second)
			h.Sweep()

			expectStream(t, drain(t, s), []notice{{Channel: "ticker", Reason: GapSkipped}}, nil)
			// The subscriber is live again.
			next := publishN(t, h, 2, "ticker")
			expectStream(t, drain(t, s), nil, next)
		})
	}
}

// A batch far over the subscriber buffer, read at once, arrives whole and
// in order: a burst alone never makes a subscriber slow, and the log has
// room for the largest batch.
func TestLargestBatchReachesAFastSubscriber(t *testing.T) {
	cfg := testConfig("a") // history 100, buffer 100
	h := startHub(t, cfg, nil)
	s := subscribe(t, h, []string{"a"}, "")
	drafts := make([]Draft, DefaultMaxBatch)
	for i := range drafts {
		drafts[i] = Draft{Channels: []string{"a"}, Data: "x", Retry: NoRetry}
	}
	res, err := h.Publish(drafts...)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(res))
	for i, r := range res {
		want[i] = r.ID.String()
	}
	expectStream(t, drain(t, s), nil, want)
}

// The janitor cuts a subscriber that stopped reading once its backlog has
// been over the buffer for the grace, without the stream reading (as when
// its write is blocked), and calls its interrupt; one that keeps up, or
// one on a latest channel, is left alone.
func TestJanitorCutsStoppedSubscriber(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig("a") // buffer 100
	cfg.Channels["ticker"] = ChannelSettings{HistorySize: 10, SlowConsumer: Latest}
	h := startHub(t, cfg, clock)
	stopped := subscribe(t, h, []string{"a"}, "")
	interrupted := make(chan struct{}, 1)
	stopped.SetInterrupt(func() { interrupted <- struct{}{} })
	reading := subscribe(t, h, []string{"a"}, "")
	ticker := subscribe(t, h, []string{"ticker"}, "")

	publishN(t, h, 150, "a")
	publishN(t, h, 150, "ticker")
	drain(t, reading)
	h.Sweep()
	if isDone(stopped) {
		t.Fatal("cut at once, before the grace")
	}
	clock.Advance(DefaultSlowConsumerGrace - time.Second)
	h.Sweep()
	if isDone(stopped) {
		t.Fatal("cut within the grace")
	}
	more := publishN(t, h, 10, "a")
	expectStream(t, drain(t, reading), nil, more)
	clock.Advance(2 * time.Second)
	h.Sweep()

	waitDone(t, stopped)
	if !stopped.SlowConsumer() {
		t.Error("SlowConsumer() = false after the cut")
	}
	select {
	case <-interrupted:
	default:
		t.Error("the interrupt was not called")
	}
	if end := stopped.EndFrame(); len(end) != 0 {
		t.Errorf("EndFrame = %q, want nothing (the client should resume)", end)
	}
	if _, _, err := stopped.Next(nil, 1<<20); !errors.Is(err, ErrSlowConsumer) {
		t.Errorf("Next after the cut = %v, want ErrSlowConsumer", err)
	}
	if isDone(reading) || isDone(ticker) {
		t.Error("the reading subscriber or the latest one was cut")
	}
	if st := h.Stats(); st.SlowDisconnects != 1 {
		t.Errorf("SlowDisconnects = %d, want 1", st.SlowDisconnects)
	}
	// The latest subscriber skips at its next read instead.
	if gaps, _ := split(t, drain(t, ticker)); len(gaps) != 1 || gaps[0].Reason != GapSkipped {
		t.Errorf("latest subscriber's notices = %+v, want one skipped", gaps)
	}
}

// A panic in a janitor pass goes to PanicHandler and the janitor goes on.
func TestJanitorRecoversPanic(t *testing.T) {
	var armed atomic.Bool
	now := func() time.Time {
		if armed.CompareAndSwap(true, false) {
			panic("injected")
		}
		return time.Now()
	}
	h, err := newHub("test", testConfig("a"), now, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	reports := make(chan any, 1)
	SetPanicHook(func(p Panic) {
		if p.Where == PanicJanitor && len(p.Stack) > 0 {
			select {
			case reports <- p.Value:
			default:
			}
		}
	})
	t.Cleanup(func() { SetPanicHook(nil) })
	armed.Store(true)
	select {
	case v := <-reports:
		if v != "injected" {
			t.Errorf("reported %v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the panic was not reported")
	}
	// The janitor still runs: its next pass reads the clock again.
	armed.Store(true)
	waitFor(t, "the next pass", func() bool { return !armed.Load() })
}

// The rule judges progress, not time alone: a subscriber that keeps
// taking events from a backlog far over the buffer is never cut, however
// long the backlog lasts; one whose backlog grows (it reads slower than
// events come) is cut once the grace passes without the backlog shrinking.
func TestSlowConsumerJudgesProgress(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig("a") // history 100, buffer 100
	h := startHub(t, cfg, clock)
	patient := subscribe(t, h, []string{"a"}, "")
	lagging := subscribe(t, h, []string{"a"}, "")
	publishN(t, h, 1000, "a")
	// 30 janitor passes a second apart, three times the grace: the patient
	// subscriber takes 30 events a second and nothing more is published to
	// it; the lagging one takes 10 while 20 more arrive each second.
	for range 30 {
		h.Sweep()
		for _, s := range []*Subscriber{patient, lagging} {
			n := 30
			if s == lagging {
				n = 10
			}
			if _, _, err := s.Next(nil, n*len("id: 1750000000000-0\ndata: x\n\n")); err != nil && s == patient {
				t.Fatalf("the patient subscriber: %v", err)
			}
		}
		if !isDone(lagging) {
			publishN(t, h, 20, "a")
		}
		clock.Advance(time.Second)
	}
	h.Sweep()
	if isDone(patient) {
		t.Error("a subscriber that kept reading was cut")
	}
	if !isDone(lagging) || !lagging.SlowConsumer() {
		t.Error("a subscriber whose backlog kept growing was not cut")
	}
}
