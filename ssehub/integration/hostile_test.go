package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Hostile clients: each test shows the hub answers clearly or within a
// documented bound, stays healthy, and keeps serving everyone else.

var hostileSite = `
http://` + siteAddr + ` {
	sse_hub /events* {
		hub hostile
		channel news
		channel feed {
			history_size 10
		}
		on_demand room-*
		subscriber_buffer 64
		slow_consumer_grace 1s
	}
}`

// dialStuck opens a TCP connection with a tiny receive buffer, sends a
// subscribe request and never reads: the kernel buffers fill, and the
// server's writes to it block.
func dialStuck(t *testing.T, path string) net.Conn {
	t.Helper()
	conn, err := smallBufferDialer().Dial("tcp", siteAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, siteAddr); err != nil {
		t.Fatal(err)
	}
	return conn
}

// smallBufferDialer dials with a 4 KiB receive buffer, so that a client
// that does not read fills its socket after little data.
func smallBufferDialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var sockErr error
		err := c.Control(func(fd uintptr) {
			sockErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, sockErr)
	}}
}

// TestSubscriberThatNeverReads: a client that sends its GET and never
// reads must not slow down publishing nor the other subscribers, however
// much is published. Once it reads again it is cut off as a slow consumer
// (it fell far more than subscriber_buffer behind), not served everything.
func TestSubscriberThatNeverReads(t *testing.T) {
	loadCaddyfile(t, hostileSite)
	stuck := dialStuck(t, "/events/feed")
	good := subscribe(t, "/events/feed", nil)
	waitSubscribers(t, "hostile", "feed", 2)

	// 12 MiB in batches of 16 events of 16 KiB, each batch published only
	// after the good subscriber got the previous one, so it never falls
	// behind its 64-event buffer itself.
	const rounds, perRound, size = 48, 16, 16 << 10
	payload := strings.Repeat("s", size)
	var slowestPublish, slowestRound time.Duration
	for r := range rounds {
		lines := make([]string, perRound)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"hub":"hostile","channel":"feed","data":"%d %s"}`, r*perRound+i, payload)
		}
		start := time.Now()
		ids := publishBatch(t, lines)
		slowestPublish = max(slowestPublish, time.Since(start))
		for i, ev := range good.nextN(t, perRound) {
			if ev.LastEventID != ids[i].ID {
				t.Fatalf("round %d: the good subscriber got %q, want %q", r, ev.LastEventID, ids[i].ID)
			}
		}
		slowestRound = max(slowestRound, time.Since(start))
	}
	t.Logf("%d MiB published past a stuck subscriber: slowest batch publish %v, slowest publish-to-delivery %v",
		rounds*perRound*size>>20, slowestPublish, slowestRound)
	if slowestPublish > 2*time.Second {
		t.Errorf("a batch publish took %v with a stuck subscriber: publishing must not wait for subscribers", slowestPublish)
	}
	info, _ := getChannel(t, "hostile", "feed")
	t.Logf("while the stuck client does not read, the channel counts %d subscribers", info.Subscribers)

	// Its backlog stayed over the buffer for longer than the grace, so the
	// hub cuts it even though its write is blocked; reading at last, it
	// gets what was in flight, then the end of its stream, well short of
	// everything.
	waitSubscribers(t, "hostile", "feed", 1)
	if err := stuck.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(stuck), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the stuck client's response: %v", err)
	}
	// Cut mid-write, the chunked body ends without its last chunk.
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("the stuck client's stream did not end after it read again: %v (read %d bytes)", err, n)
	}
	if total := int64(rounds * perRound * size); n >= total {
		t.Errorf("the stuck client got %d bytes, all of the %d published: it was never treated as a slow consumer", n, total)
	} else {
		t.Logf("once it read again, the stuck client got %d KiB and then the end of its stream", n>>10)
	}
	waitSubscribers(t, "hostile", "feed", 1)
	p := publishJSON(t, `{"hub":"hostile","channel":"feed","data":"still fine"}`)
	if ev := good.next(t); ev.LastEventID != p.ID {
		t.Errorf("after the stuck client left: got %+v, want %s", ev, p.ID)
	}
}

// rawGetAndLeave sends a stream request over raw TCP and leaves: at once
// (the request may not even have been read), or, with reset, after the
// stream's first line, with a RST instead of a FIN.
func rawGetAndLeave(path string, reset bool) error {
	conn, err := net.DialTimeout("tcp", siteAddr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, siteAddr); err != nil {
		return err
	}
	if !reset {
		return nil
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry: ") {
		return fmt.Errorf("status %d, first line %q: %v", resp.StatusCode, line, err)
	}
	return conn.(*net.TCPConn).SetLinger(0) // Close sends RST
}

// TestConnectDisconnectBurst opens and drops 5,000 streams in three ways
// (a client that cancels after the first bytes, one that closes before
// reading anything, one that resets the connection): afterwards no
// subscriber and no goroutine is left behind, and a normal stream works.
func TestConnectDisconnectBurst(t *testing.T) {
	loadCaddyfile(t, hostileSite)
	waitSubscribers(t, "hostile", "news", 0)
	goroutinesBefore := runtime.NumGoroutine()

	const cycles, workers = 5000, 8
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 10 * time.Second}}
	defer client.CloseIdleConnections()
	cycle := func(i int) error {
		switch i % 3 {
		case 0: // read the opening retry: line, then cancel
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, siteURL+"/events/news", nil)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "retry: ") {
				return fmt.Errorf("first line %q: %v", line, err)
			}
			return nil
		default: // raw TCP: close at once, or read the retry hint and reset
			return rawGetAndLeave("/events/news", i%3 == 2)
		}
	}

	start := time.Now()
	deadline := start.Add(2 * time.Minute)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= cycles || time.Now().After(deadline) {
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
	if done := min(int(next.Load()), cycles); done < cycles {
		t.Fatalf("only %d of %d connect/disconnect cycles within 2 minutes", done, cycles)
	}
	t.Logf("%d connect/disconnect cycles in %v", cycles, time.Since(start))

	waitSubscribers(t, "hostile", "news", 0)
	client.CloseIdleConnections()
	waitFor(t, "the server's goroutines to wind down", 20*time.Second, func() bool {
		return runtime.NumGoroutine() <= goroutinesBefore+20
	})
	s := subscribe(t, "/events/news", nil)
	waitSubscribers(t, "hostile", "news", 1)
	p := publishJSON(t, `{"hub":"hostile","channel":"news","data":"after the burst"}`)
	if p.Subscribers != 1 {
		t.Errorf("published to %d subscribers after the burst, want 1", p.Subscribers)
	}
	if ev := s.next(t); ev.LastEventID != p.ID || ev.Data != "after the burst" {
		t.Errorf("after the burst: got %+v", ev)
	}
}

// TestHostilePublishes sends malformed, oversized and invalid publishes
// between valid ones: each is refused with a status and a reason, nothing
// of a refused request is published, and a subscriber gets exactly the
// accepted events.
func TestHostilePublishes(t *testing.T) {
	loadCaddyfile(t, hostileSite)
	s := subscribe(t, "/events/news", nil)
	waitSubscribers(t, "hostile", "news", 1)
	before, _ := getChannel(t, "hostile", "news")

	const news = `"hub":"hostile","channel":"news"`
	nest := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	justOver := strings.Repeat("x", 16<<20) // with the JSON around it, just over 16 MiB
	cases := []struct {
		name, path, contentType, body string
		status                        int
		reason                        string // in the error, or the data that arrives
	}{
		// Invalid UTF-8, anywhere.
		{"invalid UTF-8 in data", "", "application/json", `{` + news + `,"data":"a` + "\xff" + `b"}`, 400, "not valid UTF-8"},
		{"invalid UTF-8 in event", "", "application/json", `{` + news + `,"event":"` + "\xc0\xaf" + `","data":"x"}`, 400, "not valid UTF-8"},
		{"UTF-8 surrogate bytes", "", "application/json", `{` + news + `,"data":"` + "\xed\xa0\x80" + `"}`, 400, "not valid UTF-8"},
		{"invalid UTF-8 in an NDJSON line", "", "application/x-ndjson", `{` + news + `,"data":"ok"}` + "\n" + `{` + news + `,"data":"` + "\xfe" + `"}`, 400, "line 2: request body is not valid UTF-8"},
		{"invalid UTF-8 raw body", "/news?hub=hostile", "text/plain", "a\xffb", 400, "data is not valid UTF-8"},
		{"invalid UTF-8 raw event", "/news?hub=hostile&event=%ff", "text/plain", "x", 400, "event type is not valid UTF-8"},
		// Accepted as documented: an escaped lone surrogate is valid JSON
		// syntax; like every JSON decoder, the hub reads it as U+FFFD.
		{"escaped lone surrogate", "", "application/json", `{` + news + `,"data":"a\ud800b"}`, 200, "a\uFFFDb"},

		// Over 16 MiB: 413 on every route and form.
		{"oversized JSON", "", "application/json", `{` + news + `,"data":"` + justOver + `"}`, 413, "max_publish_bytes"},
		{"oversized NDJSON line", "", "application/x-ndjson", `{` + news + `,"data":"` + justOver + `"}`, 413, "max_publish_bytes"},
		{"oversized NDJSON body", "", "application/x-ndjson", strings.Repeat(`{`+news+`,"data":"`+strings.Repeat("x", 1<<20)+`"}`+"\n", 16), 413, "max_publish_bytes"},
		{"oversized raw body", "/news?hub=hostile", "text/plain", justOver + "xxxx", 413, "max_publish_bytes"},

		// Deeply nested and malformed JSON.
		{"nesting past the decoder's limit", "", "application/json", `{` + news + `,"data":` + nest(20000) + `}`, 400, "exceeded max depth"},
		{"nested body", "", "application/json", nest(100000), 400, "malformed JSON"},
		{"deep but allowed nesting", "", "application/json", `{` + news + `,"data":` + nest(1000) + `}`, 200, nest(1000)},
		{"truncated", "", "application/json", `{` + news + `,"data":"x"`, 400, "malformed JSON"},
		{"trailing comma", "", "application/json", `{` + news + `,"data":"x",}`, 400, "malformed JSON"},
		{"single quotes", "", "application/json", `{'channel':'news','data':'x'}`, 400, "malformed JSON"},
		{"channel not a string", "", "application/json", `{"hub":"hostile","channel":5,"data":"x"}`, 400, "malformed JSON"},
		{"channels not an array", "", "application/json", `{"hub":"hostile","channels":"news","data":"x"}`, 400, "malformed JSON"},
		{"retry as a string", "", "application/json", `{` + news + `,"data":"x","retry":"5"}`, 400, "malformed JSON"},
		{"fractional retry", "", "application/json", `{` + news + `,"data":"x","retry":1.5}`, 400, "malformed JSON"},
		{"retry past int64", "", "application/json", `{` + news + `,"data":"x","retry":99999999999999999999}`, 400, "malformed JSON"},
		{"NaN", "", "application/json", `{` + news + `,"data":NaN}`, 400, "malformed JSON"},
		{"byte order mark", "", "application/json", "\ufeff{" + news + `,"data":"x"}`, 400, "malformed JSON"},
		{"empty body", "", "application/json", ``, 400, "malformed JSON"},
		{"null body", "", "application/json", `null`, 400, `"channel" (or "channels") is required`},
		{"array of nulls", "", "application/json", `[null]`, 400, `event 0: "channel" (or "channels") is required`},
		{"empty NDJSON", "", "application/x-ndjson", "\n \n", 400, "no event"},

		// Unknown fields, at any place of the event object.
		{"unknown field", "", "application/json", `{` + news + `,"data":"x","priority":1}`, 400, `unknown field "priority"`},
		{"unknown field in a batch", "", "application/json", `[{` + news + `,"data":"ok"},{` + news + `,"data":"x","ttl":5}]`, 400, `unknown field "ttl"`},
		{"unknown field in NDJSON", "", "application/x-ndjson", `{` + news + `,"data":"ok"}` + "\n" + `{` + news + `,"data":"x","Id2":1}`, 400, `line 2: malformed JSON: json: unknown field "Id2"`},
		// Inside data anything goes: it is the payload.
		{"any JSON inside data", "", "application/json", `{` + news + `,"data":{"unknown":{"deep":[null,true,"\u0000"]}}}`, 200, `{"unknown":{"deep":[null,true,"\u0000"]}}`},

		// Hostile channel names in publish bodies and the raw route.
		{"dot-dot-slash channel", "", "application/json", `{"hub":"hostile","channel":"../news","data":"x"}`, 400, `channel name "../news"`},
		{"dot-dot channel", "", "application/json", `{"hub":"hostile","channel":"..","data":"x"}`, 400, `channel name ".."`},
		{"NUL in channel", "", "application/json", `{"hub":"hostile","channel":"news\u0000","data":"x"}`, 400, `channel name "news\x00"`},
		{"CRLF in channel", "", "application/json", `{"hub":"hostile","channels":["news","a\r\nb"],"data":"x"}`, 400, `channel name "a\r\nb"`},
		{"percent-encoded NUL in channel", "", "application/json", `{"hub":"hostile","channel":"%00","data":"x"}`, 400, `channel name "%00"`},
		{"escaped slashes on the raw route", "/..%2F..%2Fnews?hub=hostile", "text/plain", "x", 400, `channel name "../../news"`},
		{"NUL on the raw route", "/news%00?hub=hostile", "text/plain", "x", 400, `channel name "news\x00"`},
		{"escaped dot-dot on the raw route", "/%2e%2e?hub=hostile", "text/plain", "x", 400, `channel name ".."`},
		{"control character on the raw route", "/news%07?hub=hostile", "text/plain", "x", 400, `channel name "news\a"`},
		{"dot-dot-slash hub", "/news?hub=..%2Fhostile", "text/plain", "x", 404, `no hub "../hostile"`},
	}
	var accepted []struct{ id, data string }
	for i, c := range cases {
		// A valid event between the hostile ones: none may be lost.
		ok := publishJSON(t, fmt.Sprintf(`{`+news+`,"data":"valid %d"}`, i))
		accepted = append(accepted, struct{ id, data string }{ok.ID, fmt.Sprintf("valid %d", i)})

		status, body := adminRequest(t, http.MethodPost, "/sse_hub/publish"+c.path, c.contentType, c.body)
		if status != c.status {
			t.Errorf("%s: %d %.200s, want %d", c.name, status, body, c.status)
			continue
		}
		if status != http.StatusOK {
			var apiErr struct{ Error string }
			if json.Unmarshal([]byte(body), &apiErr) != nil || !strings.Contains(apiErr.Error, c.reason) {
				t.Errorf("%s: error %.200s, want one containing %q", c.name, body, c.reason)
			}
			continue
		}
		var p published
		mustUnmarshal(t, body, &p)
		accepted = append(accepted, struct{ id, data string }{p.ID, c.reason})
	}
	final := publishJSON(t, `{`+news+`,"data":"final"}`)
	accepted = append(accepted, struct{ id, data string }{final.ID, "final"})

	for i, ev := range s.nextN(t, len(accepted)) {
		if ev.LastEventID != accepted[i].id || ev.Data != accepted[i].data {
			t.Errorf("event %d: got %q %.60q, want %q %.60q", i, ev.LastEventID, ev.Data, accepted[i].id, accepted[i].data)
		}
	}
	if info, _ := getChannel(t, "hostile", "news"); info.Published-before.Published != uint64(len(accepted)) {
		t.Errorf("the channel counts %d more published events, want the %d accepted", info.Published-before.Published, len(accepted))
	}
}

// TestHostileChannelNamesOnSubscribe: names with dot segments, NUL and
// control characters in subscribe paths and queries get a plain-text 400
// naming the rule (the name printed with Go escapes, so nothing is
// injected into headers or the body), or, when URL cleaning takes a dot
// segment out of the path, never reach sse_hub at all. No channel is made.
func TestHostileChannelNamesOnSubscribe(t *testing.T) {
	loadCaddyfile(t, `
http://`+siteAddr+` {
	sse_hub /events* {
		hub hostile-names
		on_demand *
	}
	respond "not a stream" 404
}`)
	cases := []struct {
		target string // sent verbatim in the request line
		status int
		reason string
	}{
		{"/events/%00", 400, `channel name "\x00"`},
		{"/events/a%00b", 400, `channel name "a\x00b"`},
		{"/events/a%0d%0aX-Injected:%20yes", 400, `channel name "a\r\nX-Injected: yes"`},
		{"/events/a%09b", 400, `channel name "a\tb"`},
		{"/events/a%1bb", 400, `channel name "a\x1bb"`},
		{"/events/%ff", 400, `channel name "\xff"`},
		{"/events?channel=../x", 400, `channel name "../x"`},
		{"/events?channel=..", 400, `channel name ".."`},
		{"/events?channel=.", 400, `channel name "."`},
		{"/events?channel=%00", 400, `channel name "\x00"`},
		{"/events?channel=ok,a%0D%0AX-Injected:%20yes", 400, `channel name "a\r\nX-Injected: yes"`},
		{"/events?channel=%7f", 400, `channel name "\x7f"`},
		// Caddy cleans dot segments out of the path, escaped or not, before
		// its path matcher looks: these never reach sse_hub.
		{"/events/../../etc/passwd", 404, "not a stream"},
		{"/events/..%2F..%2Fetc%2Fpasswd", 404, "not a stream"},
		{"/events/%2e%2e", 404, "not a stream"},
		{"/events/..", 404, "not a stream"},
	}
	for _, c := range cases {
		status, header, body := rawGet(t, c.target)
		if status != c.status || !strings.Contains(body, c.reason) {
			t.Errorf("GET %s: %d %q, want %d with %q", c.target, status, body, c.status, c.reason)
		}
		if header.Get("X-Injected") != "" || strings.Contains(header.Get("Content-Type"), "event-stream") {
			t.Errorf("GET %s: headers %v", c.target, header)
		}
	}
	status, body := adminRequest(t, http.MethodGet, "/sse_hub/hubs/hostile-names", "", "")
	var info struct{ Channels []channelInfo }
	mustUnmarshal(t, body, &info)
	if status != http.StatusOK || len(info.Channels) != 0 {
		t.Errorf("hostile subscribes left channels behind: %d %s", status, body)
	}
}

// rawGet sends a request line exactly as given (Go's client would clean or
// re-escape it) and reads the whole answer.
func rawGet(t *testing.T, target string) (int, http.Header, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", siteAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, siteAddr); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", target, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestHugeLastEventIDAndThousandsOfChannels: a 1 MB Last-Event-ID and a
// request naming thousands of channels are refused before they cost
// anything, and a subscriber already there keeps receiving. Caddy itself
// refuses request heads over 16 KiB (431); under that, sse_hub's own
// limits answer.
func TestHugeLastEventIDAndThousandsOfChannels(t *testing.T) {
	loadCaddyfile(t, hostileSite)
	healthy := subscribe(t, "/events/news", nil)

	status, _, _ := refused(t, "/events/news", http.Header{"Last-Event-Id": {strings.Repeat("9", 1<<20)}})
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("1 MB Last-Event-ID header: %d, want 431", status)
	}
	// Under that, anything longer than an ID can be is refused by sse_hub.
	status, body, _ := refused(t, "/events/news?last_event_id="+strings.Repeat("9", 8<<10), nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "Last-Event-ID is 8192 bytes") {
		t.Errorf("8 KiB last_event_id: %d %q, want 400", status, body)
	}
	status, _, _ = refused(t, "/events/news?last_event_id="+strings.Repeat("9", 64<<10), nil)
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB last_event_id: %d, want 431 from Caddy", status)
	}

	names := make([]string, 2000)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	names[0] = "room-0"
	status, body, _ = refused(t, "/events?channel="+strings.Join(names, ","), nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "2000 channels named; a stream may name at most 64") {
		t.Errorf("2,000 channels: %d %q, want 400 naming max_channels_per_subscriber", status, body)
	}
	if _, status := getChannel(t, "hostile", "room-0"); status != http.StatusNotFound {
		t.Errorf("a refused request created channel room-0: %d", status)
	}

	p := publishJSON(t, `{"hub":"hostile","channel":"news","data":"still here"}`)
	if ev := healthy.next(t); ev.LastEventID != p.ID {
		t.Errorf("the healthy subscriber got %+v, want %s", ev, p.ID)
	}
}
