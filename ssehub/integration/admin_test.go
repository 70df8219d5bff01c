package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

var adminSite = `
http://` + siteAddr + ` {
	sse_hub /events* {
		hub admin
		channel news
		on_demand room-*
	}
}`

func TestCloseChannelDisconnectsAndRemovesOnDemand(t *testing.T) {
	loadCaddyfile(t, adminSite)
	room := subscribe(t, "/events/room-1", nil)
	news := subscribe(t, "/events/news", nil)
	publishJSON(t, `{"hub":"admin","channel":"news","data":"kept"}`)
	news.next(t)

	for _, ch := range []string{"room-1", "news"} {
		status, body := adminRequest(t, http.MethodDelete, "/sse_hub/hubs/admin/channels/"+ch, "", "")
		if status != http.StatusOK {
			t.Fatalf("close %s: %d %s", ch, status, body)
		}
	}
	for name, s := range map[string]*stream{"room-1": room, "news": news} {
		_, evs := s.expectEnd(t, 5*time.Second)
		if len(evs) != 1 || evs[0].Type != "sse_hub.closed" || !strings.Contains(evs[0].Data, `"channel":"`+name+`"`) {
			t.Errorf("%s: last events %+v, want one sse_hub.closed naming the channel", name, evs)
		}
	}
	if _, status := getChannel(t, "admin", "room-1"); status != http.StatusNotFound {
		t.Errorf("closed on-demand channel still exists: %d", status)
	}
	if info, status := getChannel(t, "admin", "news"); status != http.StatusOK || info.HistoryLength != 1 {
		t.Errorf("closed declared channel: %d %+v, want it kept with its history", status, info)
	}
}

func TestAdminListsHubsAndChannels(t *testing.T) {
	loadCaddyfile(t, adminSite)
	subscribe(t, "/events/news", nil)
	p := publishJSON(t, `{"hub":"admin","channel":"news","data":"x"}`)

	status, body := adminRequest(t, http.MethodGet, "/sse_hub/hubs", "", "")
	var hubs []struct {
		Name     string        `json:"name"`
		LastID   string        `json:"last_id"`
		Channels []channelInfo `json:"channels"`
	}
	if status != http.StatusOK {
		t.Fatalf("list: %d %s", status, body)
	}
	mustUnmarshal(t, body, &hubs)
	if len(hubs) != 1 || hubs[0].Name != "admin" || hubs[0].LastID != p.ID {
		t.Fatalf("hubs = %s, want only hub admin with last id %s", body, p.ID)
	}
	var news *channelInfo
	for i := range hubs[0].Channels {
		if hubs[0].Channels[i].Name == "news" {
			news = &hubs[0].Channels[i]
		}
	}
	if news == nil || news.Subscribers != 1 || !news.Declared || news.LastID != p.ID || news.HistoryLength < 1 {
		t.Errorf("news = %+v, want declared, 1 subscriber, last id %s", news, p.ID)
	}
}

func TestAdminRejectsBadPublishesWithClearErrors(t *testing.T) {
	loadCaddyfile(t, adminSite)
	before, _ := getChannel(t, "admin", "news")
	cases := []struct {
		name, contentType, body string
		status                  int
		reason                  string
	}{
		{"CR in event", "application/json", `{"hub":"admin","channel":"news","event":"a\rb","data":"x"}`, 400, "must not contain CR or LF"},
		{"LF in event", "application/json", `{"hub":"admin","channel":"news","event":"a\nb","data":"x"}`, 400, "must not contain CR or LF"},
		{"id given", "application/json", `{"hub":"admin","channel":"news","id":"1","data":"x"}`, 400, "assigned by the hub"},
		{"no data", "application/json", `{"hub":"admin","channel":"news"}`, 400, `"data" is required`},
		{"no channel", "application/json", `{"hub":"admin","data":"x"}`, 400, `"channel" (or "channels") is required`},
		{"both channel forms", "application/json", `{"hub":"admin","channel":"news","channels":["news"],"data":"x"}`, 400, "not both"},
		{"bad channel name", "application/json", `{"hub":"admin","channel":"no/slash","data":"x"}`, 400, "A-Z a-z 0-9"},
		{"negative retry", "application/json", `{"hub":"admin","channel":"news","data":"x","retry":-5}`, 400, "non-negative"},
		{"unknown field", "application/json", `{"hub":"admin","channel":"news","data":"x","colour":1}`, 400, "unknown field"},
		{"not JSON", "application/json", `hello`, 400, "malformed JSON"},
		{"two values", "application/json", `{"hub":"admin","channel":"news","data":"x"} {}`, 400, "more than one value"},
		{"invalid UTF-8", "application/json", "{\"hub\":\"admin\",\"channel\":\"news\",\"data\":\"\xff\"}", 400, "not valid UTF-8"},
		{"unknown hub", "application/json", `{"hub":"nohub","channel":"news","data":"x"}`, 404, `no hub "nohub"`},
		{"unknown channel", "application/json", `{"hub":"admin","channel":"sports","data":"x"}`, 404, `no channel "sports"`},
		{"empty batch", "application/json", `[]`, 400, "no event"},
		{"batch with one bad event", "application/json", `[{"hub":"admin","channel":"news","data":"ok"},{"hub":"admin","channel":"news","event":"a\nb","data":"x"}]`, 400, "event 1:"},
		{"batch across hubs", "application/json", `[{"hub":"admin","channel":"news","data":"ok"},{"channel":"news","data":"x"}]`, 400, "same hub"},
		{"NDJSON with a bad line", "application/x-ndjson", "{\"hub\":\"admin\",\"channel\":\"news\",\"data\":\"ok\"}\nnot json\n", 400, "line 2:"},
		{"NDJSON batch to a missing channel", "application/x-ndjson", "{\"hub\":\"admin\",\"channel\":\"news\",\"data\":\"ok\"}\n{\"hub\":\"admin\",\"channel\":\"sports\",\"data\":\"x\"}\n", 404, `no channel "sports"`},
	}
	for _, c := range cases {
		status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish", c.contentType, c.body)
		var apiErr struct{ Error string }
		_ = json.Unmarshal([]byte(body), &apiErr)
		if status != c.status || !strings.Contains(apiErr.Error, c.reason) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, status, body, c.status, c.reason)
		}
	}
	if after, _ := getChannel(t, "admin", "news"); after.Published != before.Published {
		t.Errorf("rejected requests published %d events; nothing may be half-done", after.Published-before.Published)
	}

	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/sse_hub/publish"},
		{http.MethodGet, "/sse_hub/publish/news"},
		{http.MethodPost, "/sse_hub/hubs"},
		{http.MethodPut, "/sse_hub/hubs/admin/channels/news"},
	} {
		if status, body := adminRequest(t, c.method, c.path, "", ""); status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d %s, want 405", c.method, c.path, status, body)
		}
	}
	if status, _ := adminRequest(t, http.MethodGet, "/sse_hub/hubs/admin/nothing/here", "", ""); status != http.StatusNotFound {
		t.Errorf("unknown admin route: %d, want 404", status)
	}
}

func TestBatchPublishIsAllOrNothingAndOrdered(t *testing.T) {
	loadCaddyfile(t, adminSite)
	s := subscribe(t, "/events/news", nil)
	status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json",
		`[{"hub":"admin","channel":"news","data":"one"},{"hub":"admin","channel":"news","event":"second","data":"two"}]`)
	if status != http.StatusOK {
		t.Fatalf("batch: %d %s", status, body)
	}
	var res struct{ Events []published }
	mustUnmarshal(t, body, &res)
	evs := s.nextN(t, 2)
	if len(res.Events) != 2 || evs[0].Data != "one" || evs[1].Type != "second" || evs[0].LastEventID != res.Events[0].ID || evs[1].LastEventID != res.Events[1].ID {
		t.Errorf("batch answer %s, events %+v", body, evs)
	}
}
