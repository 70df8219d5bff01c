package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

var replaySite = `
http://` + siteAddr + ` {
	sse_hub /events* {
		hub replay
		channel x {
			history_size 10000
		}
		channel y {
			history_size 10000
		}
		channel small {
			history_size 3
		}
	}
}`

func TestReplayOf5000EventsThenLive(t *testing.T) {
	loadCaddyfile(t, replaySite)
	lines := make([]string, 5000)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"hub":"replay","channel":"x","data":"event %d"}`, i)
	}
	ids := publishBatch(t, lines)

	s := subscribe(t, "/events/x", http.Header{"Last-Event-Id": {ids[0].ID}})
	got := s.nextN(t, 4999)
	for i, ev := range got {
		if want := fmt.Sprintf("event %d", i+1); ev.Data != want || ev.LastEventID != ids[i+1].ID {
			t.Fatalf("replayed event %d: got %q %q, want %q %q", i, ev.LastEventID, ev.Data, ids[i+1].ID, want)
		}
	}
	live := publishJSON(t, `{"hub":"replay","channel":"x","data":"live"}`)
	if ev := s.next(t); ev.Data != "live" || ev.LastEventID != live.ID {
		t.Errorf("after replay: got %+v, want the live event %s", ev, live.ID)
	}
}

func TestReplayOnMultiChannelStreamByQueryParameter(t *testing.T) {
	loadCaddyfile(t, replaySite)
	var lines []string
	for i := range 2000 {
		ch := []string{`"channel":"x"`, `"channel":"y"`, `"channels":["x","y"]`}[i%3]
		lines = append(lines, fmt.Sprintf(`{"hub":"replay",%s,"data":"%d"}`, ch, i))
	}
	ids := publishBatch(t, lines)
	from := 500
	s := subscribe(t, "/events?channel=x,y&last_event_id="+ids[from].ID, nil)
	for i, ev := range s.nextN(t, len(ids)-from-1) {
		want := ids[from+1+i]
		if ev.LastEventID != want.ID || ev.Data != fmt.Sprint(from+1+i) {
			t.Fatalf("event %d: got %q %q, want %q %q", i, ev.LastEventID, ev.Data, want.ID, fmt.Sprint(from+1+i))
		}
	}
}

func TestReplayTellsTheClientAboutLostEvents(t *testing.T) {
	loadCaddyfile(t, replaySite)
	var ids []published
	for i := range 10 {
		ids = append(ids, publishJSON(t, fmt.Sprintf(`{"hub":"replay","channel":"small","data":"%d"}`, i)))
	}

	// History holds the newest 3: a client that saw event 1 missed 2-6.
	s := subscribe(t, "/events/small", http.Header{"Last-Event-Id": {ids[1].ID}})
	gap := s.next(t)
	var notice struct {
		Channel     string `json:"channel"`
		Reason      string `json:"reason"`
		LastEventID string `json:"last_event_id"`
	}
	if err := json.Unmarshal([]byte(gap.Data), &notice); err != nil || gap.Type != "sse_hub.gap" ||
		notice.Channel != "small" || notice.Reason != "expired" || notice.LastEventID != ids[1].ID {
		t.Fatalf("first event = %+v (%v), want an sse_hub.gap expired notice for %s", gap, err, ids[1].ID)
	}
	if gap.LastEventID != "" {
		t.Errorf("the gap notice carries id %q; it must carry none, so the client keeps its last event ID", gap.LastEventID)
	}
	for i, ev := range s.nextN(t, 3) {
		if ev.LastEventID != ids[7+i].ID {
			t.Errorf("after the gap: event %d is %q, want %q", i, ev.LastEventID, ids[7+i].ID)
		}
	}

	// An ID this hub never issued: told, then live only.
	for _, bad := range []string{"garbage", "99999999999999-0"} {
		s := subscribe(t, "/events/small", http.Header{"Last-Event-Id": {bad}})
		if ev := s.next(t); ev.Type != "sse_hub.gap" || !json.Valid([]byte(ev.Data)) || !strings.Contains(ev.Data, `"reason":"unknown_id"`) {
			t.Errorf("Last-Event-ID %q: first event %+v, want an unknown_id gap notice", bad, ev)
		}
		live := publishJSON(t, `{"hub":"replay","channel":"small","data":"live"}`)
		if ev := s.next(t); ev.LastEventID != live.ID {
			t.Errorf("Last-Event-ID %q: got %+v, want the live event", bad, ev)
		}
	}
}

// TestResumeUnderConcurrentPublishingLosesNothing reconnects a client again
// and again with its last ID while a publisher keeps going: across all the
// connections it must see every event once, in order.
func TestResumeUnderConcurrentPublishingLosesNothing(t *testing.T) {
	loadCaddyfile(t, replaySite)
	const total = 3000
	var (
		mu  sync.Mutex
		ids []string
	)
	// The first connection is open before anything is published; every
	// later one resumes with the last ID it saw.
	s := subscribe(t, "/events/y", nil)
	publisherDone := make(chan struct{})
	go func() {
		defer close(publisherDone)
		for i := 0; i < total; i += 10 {
			var lines []string
			for j := i; j < i+10; j++ {
				lines = append(lines, fmt.Sprintf(`{"hub":"replay","channel":"y","data":"%d"}`, j))
			}
			status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/x-ndjson", joinLines(lines))
			if status != http.StatusOK {
				t.Errorf("publish: %d %s", status, body)
				return
			}
			var res struct{ Events []published }
			if err := json.Unmarshal([]byte(body), &res); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			for _, e := range res.Events {
				ids = append(ids, e.ID)
			}
			mu.Unlock()
		}
	}()

	var seen []string
	last := ""
	for len(seen) < total {
		if s == nil {
			s = subscribe(t, "/events/y", http.Header{"Last-Event-Id": {last}})
		}
		for range 137 { // read a while, then drop the connection mid-stream
			ev := s.next(t)
			if ev.Type != "message" {
				t.Fatalf("unexpected %s event: %s", ev.Type, ev.Data)
			}
			if ev.Data != fmt.Sprint(len(seen)) {
				t.Fatalf("after %d events got data %q: a gap or a duplicate at the resume point", len(seen), ev.Data)
			}
			seen = append(seen, ev.LastEventID)
			last = ev.LastEventID
			if len(seen) == total {
				break
			}
		}
		s.close()
		s = nil
	}
	<-publisherDone
	mu.Lock()
	defer mu.Unlock()
	for i := range ids {
		if seen[i] != ids[i] {
			t.Fatalf("event %d: saw id %s, publisher got %s", i, seen[i], ids[i])
		}
	}
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") }
