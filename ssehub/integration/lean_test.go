package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/internal/ssetest"
)

// The lean path (option lean) hands plain-HTTP/1.1 streams over to an
// engine of its own, which writes the response itself. These tests hold it
// to what the normal path does: the same bytes, the same headers, the same
// drops, drains and shutdowns, and nothing left behind.

// leanSite serves one hub on two routes with the same options: /lean/* on
// the lean path and /events/* on the normal one.
func leanSite(hub, options string) string {
	block := "\t\thub " + hub + "\n" + options
	return `
http://` + siteAddr + ` {
	sse_hub /lean/* {
		lean
` + block + `
	}
	sse_hub /events/* {
` + block + `
	}
}`
}

// wentLean tells a lean response from a normal one as the client sees it:
// the lean path sends no Transfer-Encoding and ends the body by closing the
// connection, where net/http chunks an HTTP/1.1 stream.
func wentLean(resp *http.Response) bool {
	return len(resp.TransferEncoding) == 0 && resp.ContentLength == -1 && resp.Close
}

func requireLean(t *testing.T, s *stream, want bool) {
	t.Helper()
	if got := wentLean(s.resp); got != want {
		t.Fatalf("%s stream with Transfer-Encoding %v, Content-Length %d, Close %v: lean = %v, want %v",
			s.resp.Proto, s.resp.TransferEncoding, s.resp.ContentLength, s.resp.Close, got, want)
	}
}

// recordingTransport keeps the body bytes of the response it fetched, as
// the client reads them (net/http has removed any chunking), so a test can
// compare what two paths sent byte for byte.
type recordingTransport struct {
	base *http.Transport
	body *recordedBody
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rt.body = &recordedBody{rc: resp.Body}
	resp.Body = rt.body
	return resp, nil
}

// recordedBody is a response body that keeps a copy of what was read.
type recordedBody struct {
	rc  io.ReadCloser
	mu  sync.Mutex
	got bytes.Buffer
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.got.Write(p[:n])
	b.mu.Unlock()
	return n, err
}

func (b *recordedBody) Close() error { return b.rc.Close() }

// bytes returns a copy of what has been read so far.
func (b *recordedBody) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.got.Bytes())
}

// subscribeRecorded is subscribe on a client that records the body.
func subscribeRecorded(t *testing.T, path string, header http.Header) (*stream, *recordedBody) {
	t.Helper()
	base := &http.Transport{ResponseHeaderTimeout: 10 * time.Second, DisableCompression: true}
	t.Cleanup(base.CloseIdleConnections)
	rt := &recordingTransport{base: base}
	s, status, body := openStream(t, &http.Client{Transport: rt}, siteURL+path, header)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return s, rt.body
}

// untilData collects events until one whose data is marker.
func (s *stream) untilData(t *testing.T, marker string) []ssetest.Event {
	t.Helper()
	var evs []ssetest.Event
	for {
		ev := s.next(t)
		evs = append(evs, ev)
		if ev.Data == marker {
			return evs
		}
	}
}

// TestLeanAndNormalPathsSendTheSameBytes subscribes to one hub on both
// paths at once, live and resuming (a replay, an expired and an unknown
// Last-Event-ID with their sse_hub.gap notices), publishes events of every
// shape, and compares the two bodies byte for byte. The heartbeat is an
// hour, so no heartbeat lands in one body and not the other.
func TestLeanAndNormalPathsSendTheSameBytes(t *testing.T) {
	const hubName = "leanbytes"
	loadCaddyfile(t, leanSite(hubName, `
		channel news {
			history_size 3
		}
		heartbeat 1h
		max_subscribers_per_ip unlimited`))
	publishN := func(n int) []published {
		lines := make([]string, n)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"hub":%q,"channel":"news","data":"history %d"}`, hubName, i)
		}
		return publishBatch(t, lines)
	}
	gapReason := func(ev ssetest.Event) string {
		var notice struct{ Reason string }
		if ev.Type != "sse_hub.gap" || json.Unmarshal([]byte(ev.Data), &notice) != nil {
			return ""
		}
		return notice.Reason
	}

	cases := []struct {
		name string
		// setup publishes what the case resumes from and returns the
		// Last-Event-ID to send ("" for none) and a check of the events
		// the stream got before the live ones.
		setup func() (lastEventID string, check func([]ssetest.Event) error)
	}{
		{"live", func() (string, func([]ssetest.Event) error) {
			return "", func(evs []ssetest.Event) error {
				if len(evs) != 0 {
					return fmt.Errorf("%d events before the live ones, want none", len(evs))
				}
				return nil
			}
		}},
		{"replay", func() (string, func([]ssetest.Event) error) {
			ids := publishN(3)
			return ids[0].ID, func(evs []ssetest.Event) error {
				if len(evs) != 2 || evs[0].LastEventID != ids[1].ID || evs[1].LastEventID != ids[2].ID {
					return fmt.Errorf("replayed %+v, want %s and %s", evs, ids[1].ID, ids[2].ID)
				}
				return nil
			}
		}},
		{"expired", func() (string, func([]ssetest.Event) error) {
			ids := publishN(5) // history keeps the newest 3: ids[1] is lost
			return ids[0].ID, func(evs []ssetest.Event) error {
				if len(evs) != 4 || gapReason(evs[0]) != "expired" || evs[3].LastEventID != ids[4].ID {
					return fmt.Errorf("got %+v, want an expired gap notice and then %s-%s", evs, ids[2].ID, ids[4].ID)
				}
				return nil
			}
		}},
		{"unknown_id", func() (string, func([]ssetest.Event) error) {
			return "99999999999999-0", func(evs []ssetest.Event) error {
				if len(evs) != 1 || gapReason(evs[0]) != "unknown_id" {
					return fmt.Errorf("got %+v, want an unknown_id gap notice", evs)
				}
				return nil
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lastEventID, check := c.setup()
			header := http.Header{}
			if lastEventID != "" {
				header.Set("Last-Event-Id", lastEventID)
			}
			lean, leanBody := subscribeRecorded(t, "/lean/news", header)
			normal, normalBody := subscribeRecorded(t, "/events/news", header)
			requireLean(t, lean, true)
			requireLean(t, normal, false)
			waitSubscribers(t, hubName, "news", 2)

			marker := "end of " + c.name
			live := publishBatch(t, []string{
				`{"hub":"` + hubName + `","channel":"news","data":"plain"}`,
				`{"hub":"` + hubName + `","channel":"news","data":"line 1\nline 2\r\nline 3\rline 4\n"}`,
				`{"hub":"` + hubName + `","channel":"news","event":"price update","data":{ "n" : [1, 2] },"retry":5000}`,
				`{"hub":"` + hubName + `","channel":"news","data":""}`,
				`{"hub":"` + hubName + `","channel":"news","data":"hi 👋🏽 𝄞"}`,
				`{"hub":"` + hubName + `","channel":"news","data":"` + strings.Repeat("x", 256<<10) + `"}`,
				`{"hub":"` + hubName + `","channel":"news","data":` + jsonString(marker) + `}`,
			})
			for name, s := range map[string]*stream{"lean": lean, "normal": normal} {
				evs := s.untilData(t, marker)
				before := evs[:len(evs)-len(live)]
				if err := check(before); err != nil {
					t.Errorf("%s path: %v", name, err)
				}
				for i, ev := range evs[len(before):] {
					if ev.LastEventID != live[i].ID {
						t.Errorf("%s path: live event %d has id %q, want %q", name, i, ev.LastEventID, live[i].ID)
					}
				}
			}
			// Each stream has read through its marker event, and nothing
			// more was sent: the bodies are complete.
			lb, nb := leanBody.bytes(), normalBody.bytes()
			if !bytes.Equal(lb, nb) {
				i := 0
				for i < min(len(lb), len(nb)) && lb[i] == nb[i] {
					i++
				}
				t.Fatalf("the bodies differ from byte %d: lean %d bytes (%.80q...), normal %d bytes (%.80q...)",
					i, len(lb), lb[i:], len(nb), nb[i:])
			}
			if !bytes.HasPrefix(lb, []byte("retry: 3000\n\n")) {
				t.Errorf("the body starts %.40q, want the retry hint", lb)
			}
			lean.close()
			normal.close()
			waitSubscribers(t, hubName, "news", 0)
		})
	}
}

// rawSubscribe sends a subscribe request on a new connection and reads
// the response head exactly as sent; the reader goes on with the body.
func rawSubscribe(t *testing.T, path string, header http.Header) (net.Conn, string, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", siteAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, siteAddr)
	_ = header.Write(&req)
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response head of %s: %v (so far %q)", path, err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, head.String(), br
}

// headerOf parses a raw response head.
func headerOf(t *testing.T, head string) (status string, h http.Header) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head)), nil)
	if err != nil {
		t.Fatalf("parsing the head %q: %v", head, err)
	}
	// ReadResponse moves a chunked Transfer-Encoding out of the header;
	// put it back, so the check below sees the head as sent.
	if len(resp.TransferEncoding) > 0 {
		resp.Header["Transfer-Encoding"] = resp.TransferEncoding
	}
	return strings.SplitN(head, "\r\n", 2)[0], resp.Header
}

// TestLeanResponseHeadCarriesHeadersOfEarlierHandlers checks the head the
// lean path writes itself: the header directive's and CORS headers are
// there, as on the normal path, with the stream's own; the body is
// delimited by the close, never chunked.
func TestLeanResponseHeadCarriesHeadersOfEarlierHandlers(t *testing.T) {
	const hubName = "leanhead"
	loadCaddyfile(t, `
http://`+siteAddr+` {
	header X-Site "from the header directive"
	header /lean/* X-Route "lean route"
	# Operations Caddy defers until the head is written, and encode, which
	# must not make the lean head claim a compressed body.
	header -Server
	header >X-Deferred "set at the head"
	encode gzip
	sse_hub /lean/* {
		hub `+hubName+`
		lean
		cors_origins https://app.example
		heartbeat 1h
	}
	sse_hub /events/* {
		hub `+hubName+`
		cors_origins https://app.example
		heartbeat 1h
	}
}`)
	origin := http.Header{"Origin": {"https://app.example"}, "Accept-Encoding": {"gzip"}}
	conn, head, body := rawSubscribe(t, "/lean/news", origin)
	status, h := headerOf(t, head)
	if status != "HTTP/1.1 200 OK" {
		t.Errorf("status line %q, want HTTP/1.1 200 OK", status)
	}
	for name, want := range map[string]string{
		"X-Site":                           "from the header directive",
		"X-Route":                          "lean route",
		"Access-Control-Allow-Origin":      "https://app.example",
		"Access-Control-Allow-Credentials": "true",
		"Content-Type":                     "text/event-stream",
		"Cache-Control":                    "no-cache",
		"X-Accel-Buffering":                "no",
		"X-Deferred":                       "set at the head",
		"Server":                           "", // header -Server
		"Content-Encoding":                 "", // encode does not apply
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q (head %q)", name, got, want, head)
		}
	}
	if !strings.Contains(head, "\r\nConnection: close\r\n") { // ReadResponse takes Connection out of the header
		t.Errorf("the lean head %q has no Connection: close", head)
	}
	if !slices.Contains(strings.Split(strings.Join(h.Values("Vary"), ","), ","), "Origin") {
		t.Errorf("Vary = %q, want Origin in it", h.Values("Vary"))
	}
	if _, err := http.ParseTime(h.Get("Date")); err != nil {
		t.Errorf("Date = %q: %v", h.Get("Date"), err)
	}
	for _, name := range []string{"Transfer-Encoding", "Content-Length"} {
		if v, ok := h[name]; ok {
			t.Errorf("the lean head has %s %q; its body is delimited by the close", name, v)
		}
	}

	// The normal path sends the same headers, save those about framing.
	_, normalHead, _ := rawSubscribe(t, "/events/news", origin)
	_, nh := headerOf(t, normalHead)
	nh.Set("X-Route", "lean route") // the one header only the lean route sets
	// Framing headers differ; encode gzips only the normal one.
	framing := []string{"Connection", "Date", "Transfer-Encoding", "Content-Encoding"}
	names := func(h http.Header) []string {
		var out []string
		for k := range h {
			if !slices.Contains(framing, k) {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}
	if l, n := names(h), names(nh); !slices.Equal(l, n) {
		t.Errorf("lean head has headers %q, normal head %q", l, n)
	}
	if nh.Get("Transfer-Encoding") != "chunked" {
		t.Errorf("normal head %q is not chunked: the comparison shows nothing", normalHead)
	}

	// The body: the retry hint, then events as they come, unchunked.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	want := "retry: 3000\n\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(body, got); err != nil || string(got) != want {
		t.Fatalf("body starts %q (%v), want %q", got, err, want)
	}
	waitSubscribers(t, hubName, "news", 2)
	p := publishJSON(t, `{"hub":"`+hubName+`","channel":"news","data":"hello"}`)
	want = "id: " + p.ID + "\ndata: hello\n\n"
	got = make([]byte, len(want))
	if _, err := io.ReadFull(body, got); err != nil || string(got) != want {
		t.Fatalf("then %q (%v), want %q", got, err, want)
	}
}

// TestLeanRouteOverTLS: a lean route parks HTTP/1.1 over TLS as it does
// plain HTTP/1.1 (the worker writes through the TLS connection only what
// the socket has room for; a 256 KiB event goes out in pieces), serves
// HTTP/2 on the normal path, and all stream event by event; a client that
// leaves is noticed through the socket beneath TLS.
func TestLeanRouteOverTLS(t *testing.T) {
	const hubName = "leantls"
	route := `
	sse_hub /lean/* {
		hub ` + hubName + `
		lean
		heartbeat 1h
	}
	respond /text "ok"`
	loadCaddyfile(t, `
http://`+siteAddr+` {`+route+`
}

https://`+tlsSiteAddr+` {
	tls internal`+route+`
}`)
	h2 := tlsClient(t)
	waitForTLS(t, h2)
	h1tls := tlsClient(t)
	tr := h1tls.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = false
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	plain := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 10 * time.Second, DisableCompression: true}}

	cases := []struct {
		name      string
		client    *http.Client
		base      string
		wantProto int
		wantLean  bool
	}{
		{"HTTP/2 over TLS", h2, tlsSiteURL, 2, false},
		{"HTTP/1.1 over TLS", h1tls, tlsSiteURL, 1, true},
		{"plain HTTP/1.1", plain, siteURL, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, status, body := openStream(t, c.client, c.base+"/lean/feed", nil)
			if status != http.StatusOK {
				t.Fatalf("GET: %d %s", status, body)
			}
			if s.resp.ProtoMajor != c.wantProto {
				t.Fatalf("stream came over %s, want HTTP/%d", s.resp.Proto, c.wantProto)
			}
			if c.wantProto == 1 {
				requireLean(t, s, c.wantLean)
			}
			waitSubscribers(t, hubName, "feed", 1)
			for i := range 10 {
				data := fmt.Sprintf("event %d", i)
				if i == 5 {
					data = strings.Repeat("b", 256<<10)
				}
				p := publishJSON(t, `{"hub":"`+hubName+`","channel":"feed","data":`+jsonString(data)+`}`)
				if ev := s.next(t); ev.Data != data || ev.LastEventID != p.ID {
					t.Fatalf("event %d: got id %q data %.40q, want %q %.40q", i, ev.LastEventID, ev.Data, p.ID, data)
				}
			}
			s.close()
			waitSubscribers(t, hubName, "feed", 0)
		})
	}
}

func leanSlowSite(hub, writeTimeout string) string {
	return `
http://` + siteAddr + ` {
	sse_hub /lean/* {
		hub ` + hub + `
		lean
		channel news {
			history_size 100
		}
		subscriber_buffer 3
		write_timeout ` + writeTimeout + `
		heartbeat 1h
		max_subscribers_per_ip unlimited
	}
}`
}

// TestLeanBurstOverTheBufferIsNotSlow: on the lean path too, a burst far
// over subscriber_buffer, read at once, arrives whole and the stream
// stays open (issue 15).
func TestLeanBurstOverTheBufferIsNotSlow(t *testing.T) {
	const hubName = "leanslow1"
	loadCaddyfile(t, leanSlowSite(hubName, "1s"))
	s := subscribe(t, "/lean/news", nil)
	requireLean(t, s, true)
	waitSubscribers(t, hubName, "news", 1)
	burst := batchTo(t, hubName, "news", 10)
	for i, ev := range s.nextN(t, len(burst)) {
		if ev.LastEventID != burst[i].ID {
			t.Fatalf("event %d = %q, want %q", i, ev.LastEventID, burst[i].ID)
		}
	}
	waitSubscribers(t, hubName, "news", 1)
}

// TestLeanStuckClientsAreDroppedWhileOthersKeepUp has lean clients that
// never read while big events are published, one per engine worker, so
// the healthy lean client shares a worker with one of them: it still gets
// each event promptly (the engine's writes never block), and the stuck
// ones are dropped by write_timeout: they leave the hub and their sockets
// are closed.
func TestLeanStuckClientsAreDroppedWhileOthersKeepUp(t *testing.T) {
	const hubName = "leanslow2"
	// A worker blocked on a stuck socket would hold the healthy client up
	// until write_timeout drops the stuck one: 10s, far above what a busy
	// machine under -race adds to a 256 KiB publish (seen once: 4.7s).
	loadCaddyfile(t, leanSlowSite(hubName, "10s"))
	// Caddy runs in this process: the engine has as many workers as
	// GOMAXPROCS here (at least 2), and hands connections to them in turn.
	workers := max(2, runtime.GOMAXPROCS(0))
	stuck := make([]net.Conn, workers)
	for i := range stuck {
		stuck[i] = dialStuck(t, "/lean/news")
	}
	waitSubscribers(t, hubName, "news", workers)
	healthy := subscribe(t, "/lean/news", nil)
	requireLean(t, healthy, true)
	waitSubscribers(t, hubName, "news", workers+1)

	latencies := bigEventLatencies(t, hubName, healthy, 40) // 10 MiB: far more than a stuck socket holds
	t.Logf("publish-to-receive of 256 KiB events with %d stuck lean clients present: median %v, max %v", workers, latencies[len(latencies)/2], latencies[len(latencies)-1])
	if worst := latencies[len(latencies)-1]; worst > 7*time.Second {
		t.Errorf("slowest publish-to-receive was %v: a stuck client delayed the healthy one", worst)
	}
	waitFor(t, "write_timeout to drop the stuck clients", 20*time.Second, func() bool {
		info, status := getChannel(t, hubName, "news")
		return status == http.StatusOK && info.Subscribers == 1
	})

	// The server closed the stuck sockets too: once a client reads, it
	// gets what was in flight and then the end of the stream.
	for i, conn := range stuck {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := io.Copy(io.Discard, conn); err != nil {
			t.Errorf("stuck client %d: the connection is still open after it was dropped (read %d bytes): %v", i, n, err)
		}
	}
	p := publishJSON(t, `{"hub":"`+hubName+`","channel":"news","data":"still fine"}`)
	if p.Subscribers != 1 {
		t.Errorf("published to %d subscribers after the drop, want 1", p.Subscribers)
	}
	if ev := healthy.next(t); ev.LastEventID != p.ID {
		t.Errorf("after the drop: got %+v, want %s", ev, p.ID)
	}
}

// TestLeanClientThatPausesReadingCatchesUp: a lean client that reads
// nothing while 8 MiB is published (far more than the sockets hold), then
// reads through a 4 KiB receive buffer, gets every event in order. The
// engine stops writing each time the socket is full and must resume when
// it turns writable, hundreds of times over.
func TestLeanClientThatPausesReadingCatchesUp(t *testing.T) {
	const hubName = "leanpause"
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /lean/* {
		hub `+hubName+`
		lean
		channel news
		subscriber_buffer_bytes 64MB
		# Long enough for the publishing below under -race on a busy
		# machine: this test is about resuming, not dropping.
		write_timeout 60s
		heartbeat 1h
	}
}`)
	conn := dialStuck(t, "/lean/news")
	waitSubscribers(t, hubName, "news", 1)

	ids := publishPauseLoad(t, hubName)
	took := readLeanInOrder(t, conn, ids)
	t.Logf("%d MiB read through a 4 KiB receive buffer in %v", len(ids)>>4, took)
	waitSubscribers(t, hubName, "news", 1)
}

// publishPauseLoad publishes 8 MiB to news of each hub, in 8 batches of
// 16 events of 64 KiB (far more than a socket holds); the data of event i
// starts with "i ". It returns the first hub's acknowledgments.
func publishPauseLoad(t *testing.T, hubs ...string) []published {
	t.Helper()
	const batches, perBatch = 8, 16
	payload := strings.Repeat("p", 64<<10)
	var ids []published
	for b := range batches {
		for h, hubName := range hubs {
			lines := make([]string, perBatch)
			for i := range lines {
				lines[i] = fmt.Sprintf(`{"hub":%q,"channel":"news","data":"%d %s"}`, hubName, b*perBatch+i, payload)
			}
			if acked := publishBatch(t, lines); h == 0 {
				ids = append(ids, acked...)
			}
		}
	}
	return ids
}

// readLeanInOrder reads a lean response from conn and checks that it
// carries exactly the acknowledged events, in order; it returns how long
// the reading took.
func readLeanInOrder(t *testing.T, conn net.Conn, ids []published) time.Duration {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK || !wentLean(resp) {
		t.Fatalf("response %+v: %v, want a lean 200", resp, err)
	}
	p := ssetest.NewParser(resp.Body)
	start := time.Now()
	for i, want := range ids {
		ev, err := p.Next()
		if err != nil {
			t.Fatalf("the stream ended after %d of %d events (%v after reading began): %v", i, len(ids), time.Since(start), err)
		}
		if ev.LastEventID != want.ID || !strings.HasPrefix(ev.Data, fmt.Sprintf("%d ", i)) {
			t.Fatalf("event %d: got id %q, want %q", i, ev.LastEventID, want.ID)
		}
	}
	return time.Since(start)
}

// TestLeanClientThatLeavesIsRemovedPromptly: with an hour's heartbeat, no
// write would find out a client has gone; the engine's poller notices a
// closed or reset connection at once, and the stream leaves the hub.
func TestLeanClientThatLeavesIsRemovedPromptly(t *testing.T) {
	const hubName = "leangone"
	loadCaddyfile(t, leanSite(hubName, `
		heartbeat 1h
		max_subscribers_per_ip unlimited`))
	cases := []struct {
		name  string
		leave func(c *net.TCPConn) error
	}{
		{"close", func(c *net.TCPConn) error { return c.Close() }},
		{"reset", func(c *net.TCPConn) error {
			if err := c.SetLinger(0); err != nil { // Close sends RST
				return err
			}
			return c.Close()
		}},
		{"half-close", func(c *net.TCPConn) error { return c.CloseWrite() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, head, _ := rawSubscribe(t, "/lean/news", nil)
			if !strings.Contains(head, "Connection: close\r\n") || strings.Contains(head, "Transfer-Encoding") {
				t.Fatalf("not a lean stream: %q", head)
			}
			waitSubscribers(t, hubName, "news", 1)
			start := time.Now()
			if err := c.leave(conn.(*net.TCPConn)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the stream to leave the hub", 2*time.Second, func() bool {
				info, status := getChannel(t, hubName, "news")
				return status == http.StatusOK && info.Subscribers == 0
			})
			t.Logf("removed %v after the client's %s", time.Since(start), c.name)
		})
	}
}

// TestLeanReloadDrainSpreadsClosesAndLosesNothing is
// TestReloadDrainSpreadsClosesAndLosesNothing on the lean path, where the
// module, not Caddy's server, closes the old streams.
func TestLeanReloadDrainSpreadsClosesAndLosesNothing(t *testing.T) { checkReloadDrain(t, true) }

// leanGoroutines counts the goroutines running code of package lean: the
// engines' workers, pollers and tickers.
func leanGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("/ssehub/lean.")) {
			n++
		}
	}
	return n
}

// TestLeanEngineStopsWithItsConfig: once a reload has drained the old
// config's lean streams, its engine's goroutines end: a replaced config
// leaves nothing running.
func TestLeanEngineStopsWithItsConfig(t *testing.T) {
	plain := `
http://` + siteAddr + ` {
	respond "no hub here"
}`
	loadCaddyfile(t, plain)
	waitFor(t, "no lean goroutines left by earlier tests", 10*time.Second, func() bool { return leanGoroutines() == 0 })
	loadCaddyfile(t, leanSite("leanstop", `
		reload_drain 200ms
		max_subscribers_per_ip unlimited`))
	var streams []*stream
	for range 3 {
		s := subscribe(t, "/lean/news", nil)
		requireLean(t, s, true)
		streams = append(streams, s)
	}
	waitSubscribers(t, "leanstop", "news", 3)
	running := leanGoroutines()
	if running == 0 {
		t.Fatal("no lean goroutines while lean streams are open: the count shows nothing")
	}
	loadCaddyfile(t, plain)
	for _, s := range streams {
		s.expectEnd(t, 5*time.Second)
	}
	waitFor(t, "the engine's goroutines to end", 10*time.Second, func() bool { return leanGoroutines() == 0 })
	t.Logf("%d lean goroutines while streams were open, none after the reload", running)
}

// TestLeanMaxLifetimeEndsWithRetryHint: a lean stream ends at its
// lifetime (less up to 10% jitter) with a retry hint, and leaves the hub.
func TestLeanMaxLifetimeEndsWithRetryHint(t *testing.T) {
	loadCaddyfile(t, leanSite("leanlife", `
		max_lifetime 1s
		heartbeat 1h`))
	start := time.Now()
	s, body := subscribeRecorded(t, "/lean/news", nil)
	requireLean(t, s, true)
	s.expectEnd(t, 5*time.Second)
	if took := time.Since(start); took < 850*time.Millisecond || took > 2*time.Second {
		t.Errorf("a lean stream with max_lifetime 1s ended after %v, want 0.9-1s (plus the engine's 100ms tick)", took)
	}
	if b := string(body.bytes()); b != "retry: 3000\n\nretry: 3000\n\n" {
		t.Errorf("body %q, want the opening and the closing retry hint", b)
	}
	waitSubscribers(t, "leanlife", "news", 0)
}

// TestLeanShutdownEndsStreamsPromptly is TestShutdownEndsStreamsPromptly
// with lean streams: Caddy, its own process, exits within about a second
// of SIGTERM and the streams end.
func TestLeanShutdownEndsStreamsPromptly(t *testing.T) { checkShutdown(t, 4, true) }

// openFDs counts this process's open file descriptors (Caddy runs in it),
// or -1 where /proc is missing.
func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// TestLeanNoLeaksAfterConnectDisconnectCycles opens and drops 2,000 lean
// streams (a client that closes after the head, one that closes before
// any answer, one that resets after the first bytes): afterwards the hub
// counts no subscriber, and goroutines, sockets and heap are back to
// where they were.
func TestLeanNoLeaksAfterConnectDisconnectCycles(t *testing.T) {
	const hubName = "leanleaks"
	loadCaddyfile(t, leanSite(hubName, `
		max_subscribers_per_ip unlimited`))
	transport := &http.Transport{DisableKeepAlives: true, DisableCompression: true, ResponseHeaderTimeout: 10 * time.Second}
	client := &http.Client{Transport: transport}
	var notLean atomic.Int32
	cycle := func(i int) error {
		switch i % 3 {
		case 0: // Go's client: read the head, close
			resp, err := client.Get(siteURL + "/lean/news")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d: %s", resp.StatusCode, readAll(resp))
			}
			if !wentLean(resp) {
				notLean.Add(1)
			}
			return nil
		default: // raw TCP: close at once, or read the retry hint and reset
			return rawGetAndLeave("/lean/news", i%3 == 2)
		}
	}
	if err := cycle(0); err != nil { // starts the engine, so the baseline has its goroutines
		t.Fatal(err)
	}
	waitSubscribers(t, hubName, "news", 0)
	goroutines, heap := settle()
	fds := openFDs()

	const total, workers = 2000, 32
	start := time.Now()
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if err := cycle(i); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("cycle %d: %w", i, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if n := notLean.Load(); n > 0 {
		t.Fatalf("%d streams took the normal path", n)
	}
	t.Logf("%d lean connect/disconnect cycles in %v", total, time.Since(start))
	transport.CloseIdleConnections()
	waitSubscribers(t, hubName, "news", 0)

	var afterG, afterFDs int
	var afterHeap uint64
	waitFor(t, "goroutines and sockets back to baseline", 20*time.Second, func() bool {
		afterG, afterHeap = settle()
		afterFDs = openFDs()
		return afterG <= goroutines+5 && afterFDs <= fds+5
	})
	t.Logf("after %d lean subscribers: goroutines %d -> %d, open files %d -> %d, heap %d KiB -> %d KiB",
		total, goroutines, afterG, fds, afterFDs, heap>>10, afterHeap>>10)
	if afterHeap > heap+8<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB after %d lean subscribers came and went", heap>>10, afterHeap>>10, total)
	}

	// The engine still serves.
	s := subscribe(t, "/lean/news", nil)
	requireLean(t, s, true)
	waitSubscribers(t, hubName, "news", 1)
	p := publishJSON(t, `{"hub":"`+hubName+`","channel":"news","data":"after the cycles"}`)
	if ev := s.next(t); ev.LastEventID != p.ID {
		t.Errorf("after the cycles: got %+v", ev)
	}
}

// TestLeanAccessLog: Caddy logs a lean request when the handler hands the
// connection over, so the entry has the request and its status, not the
// stream's size or duration.
func TestLeanAccessLog(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "access.log")
	loadCaddyfile(t, `
http://`+siteAddr+` {
	log {
		output file `+logFile+`
	}
	sse_hub /lean/* {
		hub leanaccess
		lean
	}
}`)
	s := subscribe(t, "/lean/news", nil)
	requireLean(t, s, true)
	p := publishJSON(t, `{"hub":"leanaccess","channel":"news","data":"logged"}`)
	if ev := s.next(t); ev.LastEventID != p.ID {
		t.Fatalf("got %+v", ev)
	}
	var entry struct {
		Request  struct{ URI string } `json:"request"`
		Duration float64              `json:"duration"`
		Size     int                  `json:"size"`
		Status   int                  `json:"status"`
	}
	// Logged while the stream is still open: the entry is written at the
	// hand-off.
	waitFor(t, "the access log line for the lean stream", 10*time.Second, func() bool {
		data, _ := os.ReadFile(logFile)
		for _, line := range strings.Split(string(data), "\n") {
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Request.URI == "/lean/news" {
				return true
			}
		}
		return false
	})
	if entry.Status != http.StatusOK {
		t.Errorf("the access log has status %d for a lean stream, want 200", entry.Status)
	}
	t.Logf("access log entry of a lean stream: status %d, size %d, duration %vs", entry.Status, entry.Size, entry.Duration)
	s.close()
}

// TestLeanStreamOutlivesServerTimeouts: net/http and Caddy set deadlines
// on a connection for the request (timeouts write, write_idle, read_*);
// a lean stream owns its connection after the hand-over and must live on
// past all of them.
func TestLeanStreamOutlivesServerTimeouts(t *testing.T) {
	loadCaddyfileWithGlobals(t, []string{`	servers {
		timeouts {
			read_body 1s
			read_header 1s
			write 1s
			write_idle 1s
			idle 1s
		}
	}`}, `
http://`+siteAddr+` {
	sse_hub /lean/* {
		hub leantimeouts
		lean
		heartbeat 300ms
	}
}`)
	s, body := subscribeRecorded(t, "/lean/news", nil)
	requireLean(t, s, true)
	start := time.Now()
	waitFor(t, "heartbeats past every server timeout", 15*time.Second, func() bool {
		return bytes.Count(body.bytes(), hub.Heartbeat) >= 10 && time.Since(start) > 2500*time.Millisecond
	})
	p := publishJSON(t, `{"hub":"leantimeouts","channel":"news","data":"still here"}`)
	if ev := s.next(t); ev.LastEventID != p.ID || ev.Data != "still here" {
		t.Fatalf("after %v: got %+v", time.Since(start), ev)
	}
}

// TestLeanStreamsAreCounted: the hub's totals and /metrics tell lean
// streams from the others.
func TestLeanStreamsAreCounted(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /lean/* {
		hub leancount
		lean
	}
	sse_hub /events/* {
		hub leancount
	}
}`)
	counts := func() (subscribers, lean int, metric float64) {
		status, body := adminRequest(t, http.MethodGet, "/sse_hub/hubs/leancount", "", "")
		if status != http.StatusOK {
			t.Fatalf("hub info: %d %s", status, body)
		}
		var info struct {
			Totals struct {
				Subscribers     int `json:"subscribers"`
				LeanSubscribers int `json:"lean_subscribers"`
			} `json:"totals"`
		}
		mustUnmarshal(t, body, &info)
		return info.Totals.Subscribers, info.Totals.LeanSubscribers, scrape(t)[`caddy_sse_hub_lean_subscribers{hub="leancount"}`]
	}
	var streams []*stream
	for _, path := range []string{"/lean/news", "/lean/news", "/events/news"} {
		s := subscribe(t, path, nil)
		requireLean(t, s, strings.HasPrefix(path, "/lean/"))
		streams = append(streams, s)
	}
	if subs, lean, metric := counts(); subs != 3 || lean != 2 || metric != 2 {
		t.Fatalf("with 2 lean streams of 3: subscribers %d, lean_subscribers %d, metric %v", subs, lean, metric)
	}
	for _, s := range streams {
		s.close()
	}
	waitFor(t, "no stream counted", 5*time.Second, func() bool {
		subs, lean, metric := counts()
		return subs == 0 && lean == 0 && metric == 0
	})
}
