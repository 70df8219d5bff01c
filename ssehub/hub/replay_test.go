package hub

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

func TestReplayAfterLastEventID(t *testing.T) {
	h := startHub(t, testConfig("a", "other"), nil)
	ids := publishN(t, h, 10, "a")
	publishN(t, h, 3, "other") // later IDs on another channel change nothing

	for i, last := range ids {
		s := subscribe(t, h, []string{"a"}, last)
		expectStream(t, drain(t, s), nil, ids[i+1:])
	}
	// A live-only stream replays nothing.
	s := subscribe(t, h, []string{"a"}, "")
	expectStream(t, drain(t, s), nil, nil)
}

func TestReplayThenLive(t *testing.T) {
	h := startHub(t, testConfig("a"), nil)
	ids := publishN(t, h, 10, "a")
	s := subscribe(t, h, []string{"a"}, ids[3])
	live := publishN(t, h, 3, "a")
	events := waitEvents(t, s, 9)
	expectStream(t, events, nil, append(slices.Clone(ids[4:]), live...))

	more := publishN(t, h, 2, "a")
	expectStream(t, waitEvents(t, s, 2), nil, more)
	expectStream(t, drain(t, s), nil, nil)
}

func TestHistoryBoundedByCount(t *testing.T) {
	// The log may hold more than the history (the subscriber buffer is
	// larger); replay must still stop at HistorySize.
	for _, buffer := range []int{3, 8, 100} {
		cfg := testConfig()
		cfg.Channels["a"] = ChannelSettings{HistorySize: 3}
		cfg.SubscriberBuffer = buffer
		h := startHub(t, cfg, nil)
		ids := publishN(t, h, 10, "a")

		tests := []struct {
			resume  string
			gap     bool
			wantIDs []string
		}{
			{ids[0], true, ids[7:]},
			{ids[5], true, ids[7:]},
			{ids[6], false, ids[7:]},
			{ids[8], false, ids[9:]},
			{ids[9], false, nil},
		}
		for _, tt := range tests {
			s := subscribe(t, h, []string{"a"}, tt.resume)
			var gaps []notice
			if tt.gap {
				gaps = []notice{{Channel: "a", Reason: GapExpired, LastEventID: tt.resume}}
			}
			expectStream(t, drain(t, s), gaps, tt.wantIDs)
		}
		if info, _ := h.ChannelInfo("a"); info.HistoryLength != 3 || info.LastID != ids[9] || info.Published != 10 {
			t.Errorf("buffer %d: ChannelInfo = %+v", buffer, info)
		}
	}
}

func TestHistoryBoundedByAge(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.Channels["a"] = ChannelSettings{HistorySize: 100, HistoryMaxAge: 10 * time.Second}
	h := startHub(t, cfg, clock)

	var ids []string
	for _, wait := range []time.Duration{0, time.Second, 4 * time.Second, 7 * time.Second} {
		clock.Advance(wait) // published at +0s, +1s, +5s, +12s
		ids = append(ids, publishOne(t, h, "a").ID.String())
	}
	// Now +12s: only what was published at or after +2s is history.
	expired := func(id string) []notice { return []notice{{Channel: "a", Reason: GapExpired, LastEventID: id}} }
	check := func(when string) {
		t.Helper()
		expectStream(t, drain(t, subscribe(t, h, []string{"a"}, ids[0])), expired(ids[0]), ids[2:])
		expectStream(t, drain(t, subscribe(t, h, []string{"a"}, ids[1])), nil, ids[2:])
		expectStream(t, drain(t, subscribe(t, h, []string{"a"}, ids[2])), nil, ids[3:])
		if info, _ := h.ChannelInfo("a"); info.HistoryLength != 2 {
			t.Errorf("%s: HistoryLength = %d, want 2", when, info.HistoryLength)
		}
	}
	check("before Sweep")
	h.Sweep()
	if n := h.channels["a"].log.len(); n != 2 {
		t.Errorf("after Sweep the log holds %d events, want 2", n)
	}
	check("after Sweep")

	// Everything expires; a client that saw the newest event lost nothing.
	clock.Advance(time.Minute)
	h.Sweep()
	expectStream(t, drain(t, subscribe(t, h, []string{"a"}, ids[3])), nil, nil)
	expectStream(t, drain(t, subscribe(t, h, []string{"a"}, ids[2])), expired(ids[2]), nil)
	if _, err := h.ChannelInfo("a"); err != nil {
		t.Errorf("a declared channel was removed when its history emptied: %v", err)
	}
}

func TestGapWhenOlderThanHubStart(t *testing.T) {
	clock := newFakeClock()
	old := startHub(t, testConfig("a"), clock)
	oldIDs := publishN(t, old, 3, "a")
	old.Close()

	// The process restarts a second later with empty history.
	clock.Advance(time.Second)
	h := startHub(t, testConfig("a", "b"), clock)
	expired := func(id string, channels ...string) []notice {
		var n []notice
		for _, ch := range channels {
			n = append(n, notice{Channel: ch, Reason: GapExpired, LastEventID: id})
		}
		return n
	}
	expectStream(t, drain(t, subscribe(t, h, []string{"a"}, oldIDs[1])), expired(oldIDs[1], "a"), nil)

	ids := publishN(t, h, 2, "a")
	for _, resume := range []string{oldIDs[2], "1-0", "0-0"} {
		s := subscribe(t, h, []string{"a", "b"}, resume)
		expectStream(t, drain(t, s), expired(resume, "a", "b"), ids)
		live := publishOne(t, h, "b").ID.String()
		expectStream(t, waitEvents(t, s, 1), nil, []string{live})
		ids = append(ids, live)
	}
}

func TestUnknownLastEventID(t *testing.T) {
	h := startHub(t, testConfig("a", "b"), nil)
	publishN(t, h, 3, "a")
	last := publishOne(t, h, "b").ID
	long := strings.Repeat("9", MaxLastEventIDLength-2) + "-1"
	tests := []struct {
		resume string
		shown  string // as echoed in the notice
	}{
		{"garbage", "garbage"},
		{"1", "1"},
		{"1-", "1-"},
		{"-1", "-1"},
		{"1-2-3", "1-2-3"},
		{" " + last.String(), " " + last.String()},
		{long, long[:64] + "..."},
		// Echoed as JSON, so a hostile header cannot inject an event.
		{"1\r\nevent: evil\r\ndata: injected\r\n\r\n", "1\r\nevent: evil\r\ndata: injected\r\n\r\n"},
		// Newer than anything published (the loop publishes 10 more).
		{ID{Ms: last.Ms + 1}.String(), ID{Ms: last.Ms + 1}.String()},
		{ID{Ms: last.Ms, Seq: last.Seq + 100}.String(), ID{Ms: last.Ms, Seq: last.Seq + 100}.String()},
		{"18446744073709551615-18446744073709551615", "18446744073709551615-18446744073709551615"},
	}
	for _, tt := range tests {
		s := subscribe(t, h, []string{"b", "a"}, tt.resume)
		// The stream continues live: no replay, a notice per channel.
		want := []notice{
			{Channel: "a", Reason: GapUnknownID, LastEventID: tt.shown},
			{Channel: "b", Reason: GapUnknownID, LastEventID: tt.shown},
		}
		expectStream(t, drain(t, s), want, nil)
		live := publishOne(t, h, "a").ID.String()
		expectStream(t, waitEvents(t, s, 1), nil, []string{live})
		s.Close()
	}

	// Longer than any real ID could be: refused outright.
	huge := strings.Repeat("9", MaxLastEventIDLength) + "-1"
	if _, err := h.Subscribe(SubscribeRequest{Channels: []string{"a"}, LastEventID: huge}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a %d-byte Last-Event-ID: %v, want ErrInvalid", len(huge), err)
	}
}

func TestMultiChannelMerge(t *testing.T) {
	h := startHub(t, testConfig("a", "b", "c"), nil)
	var all []string // IDs of events on a or b, in publish order
	for _, chans := range [][]string{{"a"}, {"b"}, {"a", "b"}, {"c"}, {"b"}, {"a"}, {"b", "a"}, {"c"}, {"a", "c"}, {"b", "c"}, {"a"}} {
		id := publishOne(t, h, chans...).ID.String()
		if slices.Contains(chans, "a") || slices.Contains(chans, "b") {
			all = append(all, id)
		}
	}
	for i, resume := range all {
		s := subscribe(t, h, []string{"b", "a"}, resume)
		expectStream(t, drain(t, s), nil, all[i+1:])
	}

	// Live, with a channel named twice in the request.
	s := subscribe(t, h, []string{"a", "b", "a"}, "")
	var live []string
	for _, chans := range [][]string{{"a", "b"}, {"c"}, {"b"}, {"b", "a", "c"}, {"a"}} {
		if id := publishOne(t, h, chans...).ID.String(); !slices.Equal(chans, []string{"c"}) {
			live = append(live, id)
		}
	}
	expectStream(t, waitEvents(t, s, len(live)), nil, live)
	expectStream(t, drain(t, s), nil, nil)
}

func TestSlowConsumer(t *testing.T) {
	late := DefaultSlowConsumerGrace + time.Second
	for _, tt := range []struct {
		behind int
		after  time.Duration // since the events were published
		slow   bool
	}{
		{1, late, false},
		{4, late, false},                  // at the buffer, not over it
		{50, 0, false},                    // a burst over the buffer, read at once
		{50, late - 2*time.Second, false}, // over the buffer, but within the grace
		{5, late, true},
		{50, late, true},
	} {
		cfg := testConfig()
		cfg.Channels["a"] = ChannelSettings{HistorySize: 2}
		cfg.SubscriberBuffer = 4
		clock := newFakeClock()
		h := startHub(t, cfg, clock)
		first := publishOne(t, h, "a").ID.String()
		s := subscribe(t, h, []string{"a"}, "")
		ids := publishN(t, h, tt.behind, "a")
		h.Sweep() // the janitor judges the backlog, as it does every second
		clock.Advance(tt.after)
		h.Sweep()

		out, _, err := s.Next(nil, 1<<20)
		if !tt.slow {
			if err != nil {
				t.Errorf("%d behind: Next = %v, want the events", tt.behind, err)
			}
			expectStream(t, ssetest.ParseAll(string(out)).Events, nil, ids)
			continue
		}
		if !errors.Is(err, ErrSlowConsumer) {
			t.Errorf("%d behind with a buffer of 4: Next = %v, want ErrSlowConsumer", tt.behind, err)
			continue
		}
		if _, _, err := s.Next(nil, 1<<20); !errors.Is(err, ErrSlowConsumer) {
			t.Errorf("a slow consumer recovered on the next call: %v", err)
		}
		// It resumes from history and is told what it lost.
		s2 := subscribe(t, h, []string{"a"}, first)
		expectStream(t, drain(t, s2), []notice{{Channel: "a", Reason: GapExpired, LastEventID: first}}, ids[len(ids)-2:])
	}
}

// A long replay comes through Next in small pieces, in order, with more
// set until the last piece.
func TestLongReplayThroughNext(t *testing.T) {
	cfg := testConfig()
	cfg.Channels["a"] = ChannelSettings{HistorySize: 10000}
	cfg.SubscriberBuffer = 16
	h := startHub(t, cfg, nil)
	resume := publishOne(t, h, "a").ID.String()

	var want []string
	drafts := make([]Draft, 100)
	for range 50 {
		for i := range drafts {
			drafts[i] = Draft{Channels: []string{"a"}, Data: "payload\nsecond line", Retry: NoRetry}
		}
		res, err := h.Publish(drafts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			want = append(want, r.ID.String())
		}
	}

	s := subscribe(t, h, []string{"a"}, resume)
	var got []string
	buf := make([]byte, 0, 256)
	for calls := 0; ; calls++ {
		out, more, err := s.Next(buf[:0], 100)
		if err != nil {
			t.Fatalf("call %d: %v", calls, err)
		}
		events := ssetest.ParseAll(string(out)).Events
		if len(events) == 0 {
			t.Fatalf("call %d returned no event (more was set before)", calls)
		}
		_, ids := split(t, events)
		got = append(got, ids...)
		if more != (len(got) < len(want)) {
			t.Fatalf("after %d of %d events more = %v", len(got), len(want), more)
		}
		if !more {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("replayed %d events, want the %d published, in order", len(got), len(want))
	}
	if out, more, err := s.Next(nil, 100); len(out) != 0 || more || err != nil {
		t.Errorf("after the replay Next = %q, %v, %v", out, more, err)
	}
}

// TestReplayLiveBoundaryConcurrent has publishers run while subscribers keep
// dropping their subscription and resuming with the last ID they saw. Each
// must see every event of its channels exactly once, in ID order.
func TestReplayLiveBoundaryConcurrent(t *testing.T) {
	cfg := Config{
		Channels: map[string]ChannelSettings{
			"a": {HistorySize: 100000},
			"b": {HistorySize: 100000},
		},
		SubscriberBuffer: 100000,
	}
	// The real clock, and a janitor that sweeps all the time.
	h, err := newHub("race", cfg, time.Now, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	const perPublisher = 5000
	var (
		pubMu     sync.Mutex
		published = map[string][]ID{}
	)
	record := func(res []PublishResult, drafts []Draft) {
		pubMu.Lock()
		defer pubMu.Unlock()
		for i, r := range res {
			for _, ch := range drafts[i].Channels {
				published[ch] = append(published[ch], r.ID)
			}
		}
	}
	publisher := func(seed uint64, batches [][]Draft) {
		r := rand.New(rand.NewPCG(seed, 0))
		for range perPublisher {
			drafts := batches[r.IntN(len(batches))]
			res, err := h.Publish(drafts...)
			if err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			record(res, drafts)
		}
	}
	d := func(chans ...string) Draft { return Draft{Channels: chans, Data: "x", Retry: NoRetry} }

	type reader struct {
		channels []string
		poll     bool
		first    *Subscriber
		seen     []ID
		resubs   int
	}
	var readers []*reader
	for i, chans := range [][]string{{"a"}, {"a"}, {"b"}, {"b"}, {"a", "b"}, {"b", "a"}, {"a", "b"}, {"b", "a"}} {
		// Subscribed before anything is published, so each must see all.
		s, err := h.Subscribe(SubscribeRequest{Channels: chans})
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, &reader{channels: chans, first: s, poll: i%2 == 1})
	}

	pubDone := make(chan struct{})
	var pubs sync.WaitGroup
	for i, batches := range [][][]Draft{
		{{d("a")}},
		{{d("b")}},
		{{d("a", "b")}, {d("b", "a")}},
		{{d("a"), d("b"), d("a", "b")}, {d("b")}, {d("a"), d("a")}},
	} {
		pubs.Go(func() { publisher(uint64(i), batches) })
	}
	go func() {
		pubs.Wait()
		close(pubDone)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var subs sync.WaitGroup
	for i, rd := range readers {
		subs.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			s := rd.first
			defer func() { s.Close() }()
			last, finished := "", false
			budget := 1 + r.IntN(60)
			buf := make([]byte, 0, 4096)
			for {
				out, more, err := s.Next(buf[:0], 1+r.IntN(400))
				if err != nil {
					t.Errorf("reader %d: Next: %v", i, err)
					return
				}
				events := ssetest.ParseAll(string(out)).Events
				for _, e := range events {
					if e.Type != "message" {
						t.Errorf("reader %d: unexpected %s %s", i, e.Type, e.Data)
						return
					}
					id, err := ParseID(e.LastEventID)
					if err != nil {
						t.Errorf("reader %d: event ID %q: %v", i, e.LastEventID, err)
						return
					}
					if n := len(rd.seen); n > 0 && !rd.seen[n-1].Less(id) {
						t.Errorf("reader %d: %v came after %v", i, id, rd.seen[n-1])
						return
					}
					rd.seen = append(rd.seen, id)
					last = e.LastEventID
					budget--
				}
				if budget <= 0 && last != "" {
					// Drop the stream and resume where it left off.
					s.Close()
					next, err := h.Subscribe(SubscribeRequest{Channels: rd.channels, LastEventID: last})
					if err != nil {
						t.Errorf("reader %d: resubscribe: %v", i, err)
						return
					}
					s = next
					rd.resubs++
					budget = 1 + r.IntN(60)
					continue
				}
				if len(events) > 0 || more {
					continue
				}
				if finished {
					return // caught up after the last publish returned
				}
				if rd.poll {
					// Polling readers call Next as often as they can, to
					// land between the steps of a concurrent Publish.
					select {
					case <-pubDone:
						finished = true
					case <-ctx.Done():
						t.Errorf("reader %d: timed out after %d events", i, len(rd.seen))
						return
					default:
						runtime.Gosched()
					}
					continue
				}
				select {
				case <-s.Wake():
				case <-pubDone:
					finished = true // one more Next sees everything
				case <-ctx.Done():
					t.Errorf("reader %d: timed out after %d events", i, len(rd.seen))
					return
				}
			}
		})
	}
	subs.Wait()
	if t.Failed() {
		return
	}

	for ch := range published {
		slices.SortFunc(published[ch], cmpID)
	}
	for i, rd := range readers {
		var want []ID
		for _, ch := range rd.channels {
			want = append(want, published[ch]...)
		}
		slices.SortFunc(want, cmpID)
		want = slices.Compact(want)
		if !slices.Equal(rd.seen, want) {
			t.Errorf("reader %d on %v saw %d events, want the %d published there; first difference at %d",
				i, rd.channels, len(rd.seen), len(want), firstDifference(rd.seen, want))
		}
		t.Logf("reader %d on %v: %d events, %d resubscriptions", i, rd.channels, len(rd.seen), rd.resubs)
		if rd.resubs < 10 {
			t.Errorf("reader %d resubscribed only %d times; the test did not exercise resuming", i, rd.resubs)
		}
	}
}

func cmpID(a, b ID) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

func firstDifference(a, b []ID) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
