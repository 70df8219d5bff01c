package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// renamedSite is a hub that renames its channel from news to headlines:
// a config that, once live, closes news.
func renamedSite(hubName, extra string) string { return renamedSiteAt(siteAddr, hubName, extra) }

// refusedSiteAddr is where a config that Caddy refuses serves its hub.
// Not the harness's site address: when a refused config's http app fails
// to start one server, Caddy 2.11.9 leaves the servers it had started
// running (App.Start returns without stopping them, and a failed app is
// not stopped; read in caddyhttp/app.go), and such a server, accepting on
// the shared listener, could take a share of later tests' connections.
var refusedSiteAddr = portAbove(siteAddr, 44)

func renamedSiteAt(addr, hubName, extra string) string {
	return `
http://` + addr + ` {
	sse_hub /events/* {
		hub ` + hubName + `
		channel headlines
	}
}
` + extra
}

func newsSite(hubName string) string {
	return `
http://` + siteAddr + ` {
	sse_hub /events/* {
		hub ` + hubName + `
		channel news
	}
}`
}

// loadRefused posts a config that Caddy must refuse, and returns its
// error. The running config must be untouched afterwards.
func loadRefused(t *testing.T, globals []string, site string) string {
	t.Helper()
	status, body := adminRequest(t, http.MethodPost, "/load", "text/caddyfile", globalOptions(globals...)+site)
	if status == http.StatusOK {
		t.Fatalf("config was accepted, want it refused:\n%s", site)
	}
	var refusal struct{ Error string }
	mustUnmarshal(t, body, &refusal)
	return refusal.Error
}

// takenPort holds a loopback port so that a config listening on it fails
// to start, as "address already in use" does for an operator.
func takenPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// newsWithHistory loads the news config, opens a subscriber and publishes
// one event before and three after the subscriber's start, returning the
// stream, the first event and the three.
func newsWithHistory(t *testing.T, hubName string) (*stream, published, []published) {
	t.Helper()
	loadCaddyfile(t, newsSite(hubName))
	first := publishJSON(t, fmt.Sprintf(`{"hub":%q,"channel":"news","data":"first"}`, hubName))
	s := subscribe(t, "/events/news", nil)
	waitSubscribers(t, hubName, "news", 1)
	var three []published
	for i := range 3 {
		three = append(three, publishJSON(t, fmt.Sprintf(`{"hub":%q,"channel":"news","data":"event %d"}`, hubName, i)))
	}
	for i, ev := range s.nextN(t, 3) {
		if ev.LastEventID != three[i].ID {
			t.Fatalf("event %d: got %+v, want id %s", i, ev, three[i].ID)
		}
	}
	return s, first, three
}

// expectUntouched checks what a refused reload must leave: the open stream
// keeps going and gets the next event (nothing else first), the history
// and the ID sequence are intact, and a resuming client gets everything.
func expectUntouched(t *testing.T, hubName string, s *stream, first published, three []published) {
	t.Helper()
	info, status := getChannel(t, hubName, "news")
	if status != http.StatusOK || info.HistoryLength != 4 || info.Subscribers != 1 {
		t.Fatalf("after the refused reload: status %d, history %d, subscribers %d; want 200, 4, 1", status, info.HistoryLength, info.Subscribers)
	}
	next := publishJSON(t, fmt.Sprintf(`{"hub":%q,"channel":"news","data":"after"}`, hubName))
	if !mustID(t, three[2].ID).Less(mustID(t, next.ID)) {
		t.Errorf("ID after the refused reload %s is not after %s", next.ID, three[2].ID)
	}
	if ev := s.next(t); ev.Type != "message" || ev.LastEventID != next.ID || ev.Data != "after" {
		t.Fatalf("open stream got %+v after the refused reload, want the next event %s", ev, next.ID)
	}
	resumed := subscribe(t, "/events/news", http.Header{"Last-Event-Id": {first.ID}})
	defer resumed.close()
	want := append(append([]published(nil), three...), next)
	for i, ev := range resumed.nextN(t, len(want)) {
		if ev.Type != "message" || ev.LastEventID != want[i].ID {
			t.Fatalf("resumed event %d: got %+v, want id %s", i, ev, want[i].ID)
		}
	}
}

// expectRenameApplied loads the renaming config for real: once it is
// live, news is closed and its subscriber told so.
func expectRenameApplied(t *testing.T, hubName string, s *stream) {
	t.Helper()
	loadCaddyfile(t, renamedSite(hubName, ""))
	_, evs := s.expectEnd(t, 5*time.Second)
	if len(evs) != 1 || evs[0].Type != hub.ClosedEvent {
		t.Errorf("after the accepted reload the news stream got %+v, want one %s", evs, hub.ClosedEvent)
	}
	if _, status := getChannel(t, hubName, "news"); status != http.StatusNotFound {
		t.Errorf("news still exists after the accepted reload: %d", status)
	}
	if _, status := getChannel(t, hubName, "headlines"); status != http.StatusOK {
		t.Errorf("headlines missing after the accepted reload: %d", status)
	}
}

// TestRefusedReloadPortTakenChangesNothing is the operator's typo: the new
// config renames the channel and has a site on a port already in use.
// Caddy refuses it and keeps the running config, and so must the hub.
func TestRefusedReloadPortTakenChangesNothing(t *testing.T) {
	s, first, three := newsWithHistory(t, "refused-port")
	defer s.close()
	taken := takenPort(t)
	msg := loadRefused(t, nil, renamedSiteAt(refusedSiteAddr, "refused-port", "http://"+taken+" {\n\trespond \"taken\"\n}\n"))
	if !strings.Contains(msg, "address already in use") {
		t.Errorf("refusal %q does not say the address is in use", msg)
	}
	expectUntouched(t, "refused-port", s, first, three)
	expectRenameApplied(t, "refused-port", s)
}

// TestRefusedReloadProvisionErrorChangesNothing: the new config fails in a
// module's Provision (another handler's invalid option), after the hub's
// handler was provisioned.
func TestRefusedReloadProvisionErrorChangesNothing(t *testing.T) {
	s, first, three := newsWithHistory(t, "refused-provision")
	defer s.close()
	bad := `
http://` + portAbove(siteAddr, 5) + ` {
	sse_hub /other/* {
		hub another
		write_timeout -1s
	}
}
`
	msg := loadRefused(t, nil, renamedSiteAt(refusedSiteAddr, "refused-provision", bad))
	if !strings.Contains(msg, "write_timeout must not be negative") {
		t.Errorf("refusal %q does not name the invalid option", msg)
	}
	expectUntouched(t, "refused-provision", s, first, three)
	expectRenameApplied(t, "refused-provision", s)
}

// TestRefusedReloadKeepsTheRedisFollower: a refused config that would move
// the hub to another Redis leaves the running follower alone: it is never
// stopped or switched, and no connection to the other Redis is made.
func TestRefusedReloadKeepsTheRedisFollower(t *testing.T) {
	prefix := clusterPrefix(t, sharedRedis)
	other, dials := countingListener(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	globals := []string{"\tlog {\n\t\toutput file " + logFile + "\n\t\tlevel INFO\n\t}"}
	redisSite := func(site, addr, extra string) string {
		return fmt.Sprintf(`
http://%s {
	sse_hub /events/* {
		hub refused-redis
		channel news
		redis %s {
			prefix %s
		}
	}
}
%s`, site, addr, prefix, extra)
	}
	loadCaddyfileWithGlobals(t, globals, redisSite(siteAddr, sharedRedis, ""))
	s := subscribe(t, "/events/news", nil)
	waitSubscribers(t, "refused-redis", "news", 1)
	before := publishJSON(t, `{"hub":"refused-redis","channel":"news","data":"before"}`)
	if ev := s.next(t); ev.LastEventID != before.ID {
		t.Fatalf("got %+v, want %s", ev, before.ID)
	}
	followersStarted := func() int {
		data, _ := os.ReadFile(logFile)
		return strings.Count(string(data), "hub stores its events in redis")
	}
	startedBefore := followersStarted()

	loadRefused(t, globals, redisSite(refusedSiteAddr, other, "http://"+takenPort(t)+" {\n\trespond \"taken\"\n}\n"))

	after := publishJSON(t, `{"hub":"refused-redis","channel":"news","data":"after"}`)
	if ev := s.next(t); ev.LastEventID != after.ID || ev.Data != "after" {
		t.Fatalf("open stream got %+v after the refused reload, want %s", ev, after.ID)
	}
	if n := followersStarted(); n != startedBefore {
		t.Errorf("a refused config started %d Redis follower(s); the running one must be left alone", n-startedBefore)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("the refused config's Redis address got %d connection(s)", n)
	}
	_, body := adminRequest(t, http.MethodGet, "/sse_hub/hubs/refused-redis", "", "")
	if !strings.Contains(body, `"backend":"up"`) {
		t.Errorf("hub after the refused reload: %s, want its backend up", body)
	}
}

// countingListener is a TCP server on loopback that counts connections
// and answers nothing: a Redis address that proves whether anyone dialed.
func countingListener(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), &n
}

// TestValidateMakesNoConnection: "caddy validate" (and adapt) of a config
// with a redis block provisions everything and connects nowhere.
func TestValidateMakesNoConnection(t *testing.T) {
	addr, dials := countingListener(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	config := `{
	admin off
	sse_hub {
		hub validated {
			channel news
			redis ` + addr + `
		}
	}
}

http://127.0.0.1:1 {
	sse_hub /events/* {
		hub validated
	}
}
`
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := caddyBinary(t)
	env := toolEnv("XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	if r := runTool(t, dir, env, "", bin, "adapt", "--config", file); r.code != 0 {
		t.Fatalf("caddy adapt: %v", r)
	}
	r := runTool(t, dir, env, "", bin, "validate", "--config", file)
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "Valid configuration") {
		t.Fatalf("caddy validate: %v", r)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("caddy validate connected %d time(s) to the Redis address", n)
	}
}
