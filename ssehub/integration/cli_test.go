package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cliSite adds a second hub to the README's channels, for --hub.
var cliSite = `
http://` + siteAddr + ` {
	sse_hub /events* {
		channel news
		channel chat
		on_demand room-*
	}
	sse_hub /cli-events* {
		hub cli
		channel alerts
	}
}`

// unreachable is an admin address nothing listens on: a test that points
// CADDY_ADMIN there proves the CLI took its address from somewhere else.
const unreachable = "127.0.0.1:1"

func TestCLIFindsTheAdminEndpointLikeCaddy(t *testing.T) {
	loadCaddyfile(t, cliSite)
	dir := t.TempDir()
	admin := "{\n\tadmin " + adminAddr + "\n}\n"
	files := map[string]string{
		"Caddyfile":  admin,
		"admin.conf": admin,
		"caddy.json": `{"admin":{"listen":"` + adminAddr + `"}}`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		caddyEnv string // CADDY_ADMIN
		flags    []string
	}{
		{"default: CADDY_ADMIN", adminAddr, nil},
		{"--address", unreachable, []string{"--address", adminAddr}},
		{"--address wins over --config", unreachable, []string{"--address", adminAddr, "--config", filepath.Join(dir, "caddy.json"), "--adapter", "bogus"}},
		{"--config Caddyfile", unreachable, []string{"--config", filepath.Join(dir, "Caddyfile")}},
		{"--config with --adapter", unreachable, []string{"--config", filepath.Join(dir, "admin.conf"), "--adapter", "caddyfile"}},
		{"--config JSON", unreachable, []string{"--config", filepath.Join(dir, "caddy.json")}},
	}
	s := subscribe(t, "/events/news", nil)
	for _, tt := range tests {
		args := append([]string{"publish"}, tt.flags...)
		res := sseHub(t, toolEnv("CADDY_ADMIN="+tt.caddyEnv), "", append(args, "news", "via "+tt.name)...)
		if res.code != 0 {
			t.Errorf("%s: %s", tt.name, res)
			continue
		}
		ev := s.next(t)
		if ev.Data != "via "+tt.name || strings.TrimSpace(res.stdout) != ev.LastEventID {
			t.Errorf("%s: got event %+v, printed %q; want the data and its ID", tt.name, ev, res.stdout)
		}
	}
}

func TestCLIPublishForms(t *testing.T) {
	loadCaddyfile(t, cliSite)
	dataFile := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(dataFile, []byte("line one\nline two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type event struct{ typ, data string }
	tests := []struct {
		name  string
		stdin string
		args  []string
		path  string // the subscriber's
		want  []event
	}{
		{"argument", "", []string{"news", "hello"}, "/events/news", []event{{"message", "hello"}}},
		{"empty argument", "", []string{"news", ""}, "/events/news", []event{{"message", ""}}},
		{"event type and retry", "", []string{"--event", "update", "--retry", "2s", "news", "x"}, "/events/news", []event{{"update", "x"}}},
		{"several channels, once per stream", "", []string{"news,chat", "both"}, "/events?channel=news&channel=chat", []event{{"message", "both"}}},
		{"stdin drops one final newline", "a\n\n", []string{"news"}, "/events/news", []event{{"message", "a\n"}}},
		{"stdin CRLF", "a\r\n", []string{"news"}, "/events/news", []event{{"message", "a"}}},
		{"--file", "", []string{"--file", dataFile, "news"}, "/events/news", []event{{"message", "line one\nline two"}}},
		{"--file -", "from stdin", []string{"--file", "-", "news"}, "/events/news", []event{{"message", "from stdin"}}},
		{"--hub", "", []string{"--hub", "cli", "alerts", "to the cli hub"}, "/cli-events/alerts", []event{{"message", "to the cli hub"}}},
		{"--ndjson", `{"channel":"news","data":"one"}` + "\n\n" + `{"channel":"news","event":"e","data":[1,2]}` + "\n", []string{"--ndjson"}, "/events/news",
			[]event{{"message", "one"}, {"e", "[1,2]"}}},
		{"--ndjson --file", "", []string{"--ndjson", "--file", writeFile(t, `{"hub":"cli","channel":"alerts","data":"from a file"}`)}, "/cli-events/alerts",
			[]event{{"message", "from a file"}}},
	}
	for _, tt := range tests {
		s := subscribe(t, tt.path, nil)
		res := sseHub(t, toolEnv(), tt.stdin, append([]string{"publish"}, tt.args...)...)
		if res.code != 0 {
			t.Errorf("%s: %s", tt.name, res)
			s.close()
			continue
		}
		ids := strings.Fields(res.stdout)
		evs := s.nextN(t, len(tt.want))
		for i, ev := range evs {
			if (event{ev.Type, ev.Data}) != tt.want[i] || i >= len(ids) || ids[i] != ev.LastEventID {
				t.Errorf("%s: event %d = %+v, printed IDs %q; want %+v", tt.name, i, ev, ids, tt.want[i])
			}
		}
		if len(ids) != len(tt.want) {
			t.Errorf("%s: printed %q, want %d IDs", tt.name, res.stdout, len(tt.want))
		}
		s.close()
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCLIChannelsListsCounts(t *testing.T) {
	loadCaddyfile(t, cliSite)
	subscribe(t, "/events/news", nil)
	subscribe(t, "/events/room-9", nil)
	waitSubscribers(t, "default", "room-9", 1)
	publishJSON(t, `{"channel":"news","data":"x"}`)
	p := publishJSON(t, `{"channel":"room-9","data":"y"}`)

	res := sseHub(t, toolEnv(), "", "channels")
	if res.code != 0 {
		t.Fatalf("channels: %s", res)
	}
	rows := map[string][]string{}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "HUB CHANNEL KIND SUBSCRIBERS PUBLISHED HISTORY LAST_ID" {
		t.Errorf("header %q", lines[0])
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		rows[f[0]+"/"+f[1]] = f[2:]
	}
	for _, want := range []struct{ hub, channel, kind string }{
		{"default", "news", "declared"},
		{"default", "chat", "declared"},
		{"default", "room-9", "on-demand"},
		{"cli", "alerts", "declared"},
	} {
		info, _ := getChannel(t, want.hub, want.channel)
		last := info.LastID
		if last == "" {
			last = "-"
		}
		row := strings.Join(rows[want.hub+"/"+want.channel], " ")
		expect := strings.Join([]string{want.kind, strconv.Itoa(info.Subscribers), strconv.FormatUint(info.Published, 10),
			strconv.Itoa(info.HistoryLength) + "/1000", last}, " ")
		if row != expect {
			t.Errorf("%s/%s: row %q, want %q (admin says %+v)", want.hub, want.channel, row, expect, info)
		}
	}
	if row := rows["default/room-9"]; len(row) < 5 || row[1] != "1" || row[4] != p.ID {
		t.Errorf("room-9 row %q, want 1 subscriber and last ID %s", row, p.ID)
	}

	res = sseHub(t, toolEnv(), "", "channels", "--hub", "cli", "--json")
	var hubs []struct {
		Name     string        `json:"name"`
		Channels []channelInfo `json:"channels"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &hubs) != nil {
		t.Fatalf("channels --hub cli --json: %s", res)
	}
	if len(hubs) != 1 || hubs[0].Name != "cli" || len(hubs[0].Channels) != 1 || hubs[0].Channels[0].Name != "alerts" {
		t.Errorf("channels --hub cli --json = %s, want only hub cli with channel alerts", res.stdout)
	}
}

func TestCLICloseDisconnectsSubscribers(t *testing.T) {
	loadCaddyfile(t, cliSite)
	tests := []struct {
		name, path, hub, channel string
		args                     []string
	}{
		{"on-demand channel of the default hub", "/events/room-7", "default", "room-7", []string{"close", "room-7"}},
		{"--hub", "/cli-events/alerts", "cli", "alerts", []string{"close", "--hub", "cli", "alerts"}},
	}
	for _, tt := range tests {
		s := subscribe(t, tt.path, nil)
		waitSubscribers(t, tt.hub, tt.channel, 1)
		res := sseHub(t, toolEnv(), "", tt.args...)
		if res.code != 0 || res.stdout != "" {
			t.Errorf("%s: %s", tt.name, res)
			continue
		}
		_, evs := s.expectEnd(t, 5*time.Second)
		if len(evs) != 1 || evs[0].Type != "sse_hub.closed" || evs[0].Data != `{"channel":"`+tt.channel+`"}` {
			t.Errorf("%s: last events %+v, want one sse_hub.closed", tt.name, evs)
		}
	}
	if _, status := getChannel(t, "default", "room-7"); status != http.StatusNotFound {
		t.Errorf("closed on-demand channel still listed: %d", status)
	}
}

// TestCLIFailuresHaveExitStatusAndReason pins what scripts rely on: exit
// status 1 for usage, input or connection problems, 2 when the admin
// endpoint refused, the reason on stderr, nothing on stdout, and nothing
// published.
func TestCLIFailuresHaveExitStatusAndReason(t *testing.T) {
	loadCaddyfile(t, cliSite)
	before, _ := getChannel(t, "default", "news")
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		reason string
	}{
		{"unknown channel", "", []string{"publish", "sports", "x"}, 2, `sse_hub publish: HTTP 404: hub \"default\" has no channel \"sports\"`},
		{"invalid channel name", "", []string{"publish", "a/b", "x"}, 2, `HTTP 400: channel name \"a/b\"`},
		{"CR in the event type", "", []string{"publish", "--event", "a\rb", "news", "x"}, 2, "HTTP 400"},
		{"unknown hub", "", []string{"publish", "--hub", "nohub", "news", "x"}, 2, `HTTP 404: no hub \"nohub\"`},
		{"NDJSON batch with a bad line", `{"channel":"news","data":"ok"}` + "\nnot json\n", []string{"publish", "--ndjson"}, 2, "HTTP 400: line 2: malformed JSON"},
		{"close a missing channel", "", []string{"close", "room-404"}, 2, `sse_hub close channel: HTTP 404: hub \"default\" has no channel \"room-404\"`},
		{"channels of a missing hub", "", []string{"channels", "--hub", "nohub"}, 2, `HTTP 404: no hub \"nohub\"`},
		{"admin endpoint unreachable", "", []string{"publish", "--address", unreachable, "news", "x"}, 1, "connection refused"},
		{"config file missing", "", []string{"publish", "--config", "/nonexistent/Caddyfile", "news", "x"}, 1, "/nonexistent/Caddyfile"},
		{"no channel", "", []string{"publish"}, 1, "publish takes a channel list"},
		{"too many arguments", "", []string{"publish", "news", "a", "b"}, 1, "got 3 arguments"},
		{"data twice", "", []string{"publish", "--file", "/dev/null", "news", "x"}, 1, "not both"},
		{"unreadable file", "", []string{"publish", "--file", "/nonexistent", "news"}, 1, "reading the data"},
		{"bad retry", "", []string{"publish", "--retry", "soon", "news", "x"}, 1, `--retry \"soon\"`},
		{"--ndjson with a channel", "", []string{"publish", "--ndjson", "news"}, 1, "--ndjson takes no arguments"},
		{"--ndjson with --event", "", []string{"publish", "--ndjson", "--event", "x"}, 1, "--event does not apply with --ndjson"},
		{"close without a channel", "", []string{"close"}, 1, "close takes one channel name"},
		{"unknown subcommand", "", []string{"pubish", "news", "x"}, 1, `unknown command \"pubish\"`},
		{"unknown flag", "", []string{"publish", "--colour", "news", "x"}, 1, "unknown flag: --colour"},
	}
	for _, tt := range tests {
		res := sseHub(t, toolEnv(), tt.stdin, tt.args...)
		if res.code != tt.code || !strings.Contains(res.stderr, tt.reason) || res.stdout != "" {
			t.Errorf("%s: %s\nwant exit status %d, stderr with %q, empty stdout", tt.name, res, tt.code, tt.reason)
		}
	}
	if after, _ := getChannel(t, "default", "news"); after.Published != before.Published {
		t.Errorf("failed commands published %d events", after.Published-before.Published)
	}
}
