package integration

import (
	"net/http"
	"strings"
	"testing"
)

func TestSubscribeReceivesPublishedEvents(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events/* {
		hub basic
		channel news
		retry 2500ms
	}
}`)
	s := subscribe(t, "/events/news", nil)
	for header, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if got := s.resp.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}

	cases := []struct {
		name, data, want string
	}{
		{"plain", "hello", "hello"},
		{"multi-line", "line 1\nline 2\n", "line 1\nline 2\n"},
		{"crlf", "a\r\nb", "a\nb"},
		{"lone CR", "a\rb", "a\nb"}, // a browser reads a lone CR as a line end
		{"leading space", "  indented", "  indented"},
		{"empty", "", ""},
		{"only newlines", "\n\n", "\n\n"},
		{"emoji", "hi 👋🏽 𝄞", "hi 👋🏽 𝄞"},
		{"big", strings.Repeat("x", 256<<10), strings.Repeat("x", 256<<10)},
	}
	for _, c := range cases {
		p := publishJSON(t, `{"hub":"basic","channel":"news","data":`+jsonString(c.data)+`}`)
		if p.Subscribers != 1 {
			t.Errorf("%s: queued to %d subscribers, want 1", c.name, p.Subscribers)
		}
		ev := s.next(t)
		if ev.Data != c.want || ev.Type != "message" || ev.LastEventID != p.ID {
			t.Errorf("%s: got type %q id %q data %.40q, want message %q %.40q", c.name, ev.Type, ev.LastEventID, ev.Data, p.ID, c.want)
		}
	}
	if s.parser.Retry != 2500 {
		t.Errorf("retry hint = %d, want 2500", s.parser.Retry)
	}

	// Named events, JSON data as compact JSON text, and the raw curl form.
	p := publishJSON(t, `{"hub":"basic","channel":"news","event":"price update","data":{ "n" : [1, 2] },"retry":5000}`)
	if ev := s.next(t); ev.Type != "price update" || ev.Data != `{"n":[1,2]}` || ev.LastEventID != p.ID {
		t.Errorf("named event: got %+v", ev)
	}
	if s.parser.Retry != 5000 {
		t.Errorf("per-event retry = %d, want 5000", s.parser.Retry)
	}
	status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish/news?hub=basic&event=note", "text/plain", "raw body\nsecond line")
	if status != http.StatusOK {
		t.Fatalf("raw publish: %d %s", status, body)
	}
	if ev := s.next(t); ev.Type != "note" || ev.Data != "raw body\nsecond line" {
		t.Errorf("raw publish: got %+v", ev)
	}
}

func TestMultiChannelStreamGetsEachEventOnce(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events* {
		hub multi
		on_demand *
	}
}`)
	s := subscribe(t, "/events?channel=a&channel=b,c", nil)
	both := publishJSON(t, `{"hub":"multi","channels":["a","b"],"data":"to a and b"}`)
	if both.Subscribers != 1 {
		t.Errorf("event to a and b queued to %d subscribers, want 1 (one stream)", both.Subscribers)
	}
	onlyC := publishJSON(t, `{"hub":"multi","channel":"c","data":"to c"}`)
	publishJSON(t, `{"hub":"multi","channel":"d","data":"to d, not subscribed"}`)
	last := publishJSON(t, `{"hub":"multi","channel":"a","data":"last"}`)

	got := s.nextN(t, 3)
	want := []struct{ id, data string }{{both.ID, "to a and b"}, {onlyC.ID, "to c"}, {last.ID, "last"}}
	for i, w := range want {
		if got[i].LastEventID != w.id || got[i].Data != w.data {
			t.Errorf("event %d: got %q %q, want %q %q", i, got[i].LastEventID, got[i].Data, w.id, w.data)
		}
	}
}

func TestSubscribeRefusesBadRequestsWithReasons(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events* {
		hub strict
		channel news
		on_demand room-*
		max_on_demand_channels 1
	}
}`)
	cases := []struct {
		path   string
		status int
		reason string
	}{
		{"/events/bad%20name", http.StatusBadRequest, "A-Z a-z 0-9"},
		{"/events/" + strings.Repeat("x", 129), http.StatusBadRequest, "1-128 characters"},
		{"/events/", http.StatusBadRequest, "no channel named"},
		{"/events/other", http.StatusNotFound, `no channel "other"`},
		{"/events?channel=news&channel=nope", http.StatusNotFound, `no channel "nope"`},
	}
	for _, c := range cases {
		_, status, body := trySubscribe(t, c.path, nil)
		if status != c.status || !strings.Contains(body, c.reason) {
			t.Errorf("GET %s: %d %q, want %d with %q", c.path, status, body, c.status, c.reason)
		}
	}

	// The on-demand bound: the first room is created, a second is refused.
	subscribe(t, "/events/room-1", nil)
	_, status, body := trySubscribe(t, "/events/room-2", nil)
	if status != http.StatusConflict || !strings.Contains(body, "configured maximum is 1") {
		t.Errorf("second on-demand channel: %d %q, want 409 naming the bound", status, body)
	}

	req, _ := http.NewRequest(http.MethodPost, siteURL+"/events/news", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Errorf("POST on the stream route: %d Allow=%q, want 405 Allow=GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
