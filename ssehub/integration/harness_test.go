package integration

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/klauspost/compress/zstd"

	_ "github.com/ssehub/sse_hub"
	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// Loopback addresses of the Caddy under test. SSEHUB_TEST_PORT_BASE moves
// them (admin on base, plain-HTTP site on base+1, HTTPS site on base+2), so
// several checkouts can run their tests on one machine at once.
var (
	adminAddr, siteAddr, tlsSiteAddr = testAddrs()
	adminURL                         = "http://" + adminAddr
	siteURL                          = "http://" + siteAddr
	tlsSiteURL                       = "https://" + tlsSiteAddr
)

func testAddrs() (admin, site, tlsSite string) {
	admin, site = shiftedAddrs(0)
	return admin, site, portAbove(site, 1)
}

// shiftedAddrs returns an admin and a site address 10*shift ports above
// the harness's own, for tests that run a second Caddy or a second site.
func shiftedAddrs(shift int) (admin, site string) {
	base := 22019
	if v := os.Getenv("SSEHUB_TEST_PORT_BASE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > 65000 {
			panic("SSEHUB_TEST_PORT_BASE must be a port number from 1024 to 65000")
		}
		base = n
	}
	base += 10 * shift
	return fmt.Sprintf("127.0.0.1:%d", base), fmt.Sprintf("127.0.0.1:%d", base+1)
}

// globalOptions keep the test Caddy on loopback and out of the user's
// home and trust store. Automatic HTTPS only issues certificates (from
// Caddy's internal CA, for sites that say "tls internal"): it adds no
// redirects, so the plain http:// sites the tests use are left as written.
func globalOptions(extra ...string) string {
	_, port, _ := strings.Cut(siteAddr, ":")
	_, tlsPort, _ := strings.Cut(tlsSiteAddr, ":")
	return `{
` + strings.Join(extra, "\n") + `
	admin ` + adminAddr + `
	http_port ` + port + `
	https_port ` + tlsPort + `
	default_bind 127.0.0.1
	persist_config off
	skip_install_trust
	auto_https disable_redirects
}
`
}

// workDir is the test run's scratch directory (Caddy's XDG dirs, built
// binaries); TestMain removes it.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ssehub-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	os.Setenv("XDG_CONFIG_HOME", dir)
	os.Setenv("XDG_DATA_HOME", dir)
	initial := fmt.Sprintf(`{"admin":{"listen":%q,"config":{"persist":false}}}`, adminAddr)
	if err := caddy.Load([]byte(initial), true); err != nil {
		fmt.Fprintln(os.Stderr, "starting caddy:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = caddy.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// loads numbers the configs loadCaddyfile loads (tests run one at a time).
var loads int

// loadMarkerHost names a site that loadCaddyfile adds beside the test's own
// on the plain-HTTP port, answering with the load's number.
const loadMarkerHost = "load-marker.sse-hub.test"

// loadCaddyfile loads a site block (global options are added) the way
// "caddy reload" does: a POST to the admin /load endpoint. Every load is a
// real reload (the marker site makes it differ from the last one).
//
// Caddy answers /load once the old servers have begun shutting down, not
// once they stopped accepting: for a moment a new connection may still be
// accepted, and served or dropped, by the old config. So loadCaddyfile
// waits until fresh connections are all served by the new config.
func loadCaddyfile(t *testing.T, site string) {
	t.Helper()
	loadCaddyfileWithGlobals(t, nil, site)
}

// loadCaddyfileWithGlobals is loadCaddyfile with extra global options.
func loadCaddyfileWithGlobals(t *testing.T, globals []string, site string) {
	t.Helper()
	loads++
	_, port, _ := strings.Cut(siteAddr, ":")
	// "load N", never a bare number: respond takes a lone three-digit
	// argument as a status code, so from the 100th load on the marker
	// answered an empty 100, 101... instead of its number.
	marker := fmt.Sprintf("\nhttp://%s:%s {\n\trespond \"load %d\"\n}\n", loadMarkerHost, port, loads)
	status, body := adminRequest(t, http.MethodPost, "/load", "text/caddyfile", globalOptions(globals...)+site+marker)
	if status != http.StatusOK {
		t.Fatalf("loading config: %d %s", status, body)
	}
	want := "load " + strconv.Itoa(loads)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	inARow := 0
	var lastSeen string // what the marker answered last, for the failure message
	deadline := time.Now().Add(10 * time.Second)
	for inARow < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10s waiting for only the new config to answer: the marker site answered %s, want %q", lastSeen, want)
		}
		req, _ := http.NewRequest(http.MethodGet, siteURL+"/", nil)
		req.Host = loadMarkerHost
		resp, err := client.Do(req)
		if err != nil {
			inARow, lastSeen = 0, err.Error()
			time.Sleep(10 * time.Millisecond) // a poll step
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			inARow, lastSeen = 0, fmt.Sprintf("%d %q", resp.StatusCode, b)
			time.Sleep(10 * time.Millisecond) // a poll step
			continue
		}
		inARow++
	}
}

// adminRequest sends a request to the admin endpoint.
func adminRequest(t *testing.T, method, path, contentType, body string) (int, string) {
	t.Helper()
	return adminRequestAt(t, adminURL, method, path, contentType, body)
}

// adminClient opens a connection per request: every config load replaces
// Caddy's admin server and closes the old one's idle connections, so a
// publish racing a reload on a kept-alive connection could be reset.
var adminClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// adminRequestAt sends a request to the admin endpoint at base.
func adminRequestAt(t *testing.T, base, method, path, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// published is the admin API's answer for one event.
type published struct {
	ID          string `json:"id"`
	Subscribers int    `json:"subscribers"`
}

// publishJSON publishes one JSON event and fails the test unless it is accepted.
func publishJSON(t *testing.T, event string) published {
	t.Helper()
	status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json", event)
	if status != http.StatusOK {
		t.Fatalf("publish %s: %d %s", event, status, body)
	}
	var p published
	mustUnmarshal(t, body, &p)
	return p
}

// publishBatch publishes NDJSON lines and returns the IDs in order.
func publishBatch(t *testing.T, lines []string) []published {
	t.Helper()
	status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/x-ndjson", strings.Join(lines, "\n"))
	if status != http.StatusOK {
		t.Fatalf("batch publish: %d %s", status, body)
	}
	var res struct{ Events []published }
	mustUnmarshal(t, body, &res)
	if len(res.Events) != len(lines) {
		t.Fatalf("batch of %d answered with %d results", len(lines), len(res.Events))
	}
	return res.Events
}

func mustUnmarshal(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// stream is an open EventSource-like connection.
type stream struct {
	resp   *http.Response
	events chan ssetest.Event
	done   chan struct{} // closed when the body ends
	parser *ssetest.Parser
	cancel context.CancelFunc
}

// subscribe opens a stream and waits for its response head.
func subscribe(t *testing.T, path string, header http.Header) *stream {
	t.Helper()
	s, status, body := trySubscribe(t, path, header)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return s
}

// trySubscribe opens a stream; on a non-200 answer it returns the body.
func trySubscribe(t *testing.T, path string, header http.Header) (*stream, int, string) {
	t.Helper()
	return trySubscribeAt(t, siteURL, path, header)
}

// trySubscribeAt is trySubscribe on the site at base.
func trySubscribeAt(t *testing.T, base, path string, header http.Header) (*stream, int, string) {
	t.Helper()
	// No client timeout: streams live long. The header wait is bounded
	// by the transport.
	client := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 10 * time.Second, DisableCompression: true}}
	return openStream(t, client, base+path, header)
}

// openStream opens a stream at url with the given client (HTTP/2, TLS and
// encode tests bring their own); on a non-200 answer it returns the body.
// The body is parsed as it arrives, whatever its Content-Encoding says, so
// a test that allows compression decodes it itself (see streamBody).
func openStream(t *testing.T, client *http.Client, url string, header http.Header) (*stream, int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return openStreamRequest(t, client, req)
}

// openStreamRequest is openStream for a request the caller prepared.
// Like EventSource, it retries a connection that fails before any answer.
func openStreamRequest(t *testing.T, client *http.Client, req *http.Request) (*stream, int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(req.Context())
	req = req.WithContext(ctx)
	var resp *http.Response
	var err error
	for attempt := 1; ; attempt++ {
		if resp, err = client.Do(req); err == nil {
			break
		}
		if attempt == 3 {
			cancel()
			t.Fatalf("GET %s: %v", req.URL, err)
		}
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, string(b)
	}
	s := &stream{
		resp:   resp,
		events: make(chan ssetest.Event, 100000),
		done:   make(chan struct{}),
		parser: ssetest.NewParser(streamBody(t, resp)),
		cancel: cancel,
	}
	go func() {
		defer close(s.done)
		defer close(s.events)
		for {
			ev, err := s.parser.Next()
			if err != nil {
				return
			}
			s.events <- ev
		}
	}()
	t.Cleanup(s.close)
	return s, resp.StatusCode, ""
}

// streamBody is the response body, decompressed if the server chose a
// Content-Encoding (only tests that send Accept-Encoding can get one).
func streamBody(t *testing.T, resp *http.Response) io.Reader {
	t.Helper()
	switch enc := resp.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return resp.Body
	case "gzip":
		return &lazyReader{open: func() (io.Reader, error) { return gzip.NewReader(resp.Body) }}
	case "zstd":
		return &lazyReader{open: func() (io.Reader, error) { return zstd.NewReader(resp.Body) }}
	default:
		t.Fatalf("stream came with Content-Encoding %q, which the test cannot decode", enc)
		return nil
	}
}

// lazyReader opens its decoder on the first Read, from the stream's reading
// goroutine: a gzip reader reads the header as it is created, which would
// block the test until the first bytes arrived.
type lazyReader struct {
	open func() (io.Reader, error)
	r    io.Reader
	err  error
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil && l.err == nil {
		l.r, l.err = l.open()
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.r.Read(p)
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
	<-s.done
}

// next waits for the next event.
func (s *stream) next(t *testing.T) ssetest.Event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("stream ended while an event was expected")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return ssetest.Event{}
}

// nextN collects n events.
func (s *stream) nextN(t *testing.T, n int) []ssetest.Event {
	t.Helper()
	evs := make([]ssetest.Event, 0, n)
	for len(evs) < n {
		evs = append(evs, s.next(t))
	}
	return evs
}

// expectEnd waits for the server to end the stream, returning how long it
// took and any events that came first.
func (s *stream) expectEnd(t *testing.T, within time.Duration) (time.Duration, []ssetest.Event) {
	t.Helper()
	start := time.Now()
	var evs []ssetest.Event
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return time.Since(start), evs
			}
			evs = append(evs, ev)
		case <-deadline:
			t.Fatalf("stream still open after %v", within)
		}
	}
}

// expectQuiet checks that no event arrives within d (used only to show a
// duplicate did not come; the positive cases all wait on conditions).
func (s *stream) expectQuiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if ok {
			t.Fatalf("unexpected event %+v", ev)
		}
	case <-time.After(d):
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// channelInfo reads one channel's admin info.
type channelInfo struct {
	Name          string `json:"name"`
	Declared      bool   `json:"declared"`
	Subscribers   int    `json:"subscribers"`
	Published     uint64 `json:"published"`
	HistoryLength int    `json:"history_length"`
	LastID        string `json:"last_id"`
}

func getChannel(t *testing.T, hub, channel string) (channelInfo, int) {
	t.Helper()
	status, body := adminRequest(t, http.MethodGet, "/sse_hub/hubs/"+hub+"/channels/"+channel, "", "")
	var info channelInfo
	if status == http.StatusOK {
		mustUnmarshal(t, body, &info)
	}
	return info, status
}

// waitSubscribers waits until a channel has n subscribers, so a publish is
// known to reach a stream that was just opened.
func waitSubscribers(t *testing.T, hub, channel string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d subscribers on %s/%s", n, hub, channel), 10*time.Second, func() bool {
		info, status := getChannel(t, hub, channel)
		return status == http.StatusOK && info.Subscribers == n
	})
}

// readAll reads a response body, for error messages.
func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// portAbove returns addr with its port raised by n.
func portAbove(addr string, n int) string {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return net.JoinHostPort(host, strconv.Itoa(p+n))
}
