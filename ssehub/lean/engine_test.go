package lean

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// These tests park real loopback TCP connections in an engine and read
// them as a client would.

var retry = hub.AppendRetry(nil, 3000)

func newHub(t *testing.T) *hub.Hub {
	t.Helper()
	hb, err := hub.New("lean-test", hub.Config{
		Channels:         map[string]hub.ChannelSettings{"news": {HistorySize: 1000}},
		SubscriberBuffer: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hb.Close)
	return hb
}

func newEngine(t *testing.T, s Settings) *Engine {
	t.Helper()
	if s.Heartbeat == 0 {
		s.Heartbeat = time.Hour
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = 5 * time.Second
	}
	s.Retry = retry
	e := NewEngine(s)
	t.Cleanup(func() {
		e.Shutdown(time.Second)
		waitOrFail(t, "engine goroutines to stop", func() bool { e.Wait(); return true })
	})
	return e
}

// client is the far end of a parked connection.
type client struct {
	net.Conn
	ended chan lifecycle.EndReason // the reason the engine gave
}

// park connects a client and hands the server side to e, subscribed to
// news. setup may adjust the server side's socket first.
func park(t *testing.T, e *Engine, hb *hub.Hub, lifetime time.Duration, setup func(*net.TCPConn)) *client {
	t.Helper()
	c := e.Prepare()
	if c == nil {
		t.Fatal("Prepare refused: the engine is closing")
	}
	return parkConn(t, e, hb, c, lifetime, setup)
}

func parkConn(t *testing.T, e *Engine, hb *hub.Hub, c *Conn, lifetime time.Duration, setup func(*net.TCPConn)) *client {
	t.Helper()
	return parkConnWith(t, e, hb, c, lifetime, setup, nil)
}

func parkConnWith(t *testing.T, e *Engine, hb *hub.Hub, c *Conn, lifetime time.Duration, setup func(*net.TCPConn), wrap func(net.Conn) net.Conn) *client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(sc.(*net.TCPConn))
	}
	sub, err := hb.Subscribe(hub.SubscribeRequest{Channels: []string{"news"}, Notify: c.Notify})
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{Conn: cc, ended: make(chan lifecycle.EndReason, 1)}
	if wrap != nil {
		sc = wrap(sc)
	}
	e.Adopt(c, sc, sub, []byte("HEAD\n"), lifetime, func(reason lifecycle.EndReason) { cl.ended <- reason })
	return cl
}

// readUntil reads until the stream holds want, or fails after 5s.
func (c *client) readUntil(t *testing.T, want string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 64<<10)
	for !bytes.Contains(got, []byte(want)) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("reading: %v; have %d bytes ending %q, want %.80q in it", err, len(got), tail(got), want)
		}
	}
	return string(got)
}

// readToEOF reads everything until the engine closes the connection.
func (c *client) readToEOF(t *testing.T) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading to the end: %v (have %d bytes ending %q)", err, len(b), tail(b))
	}
	return string(b)
}

// tail is the end of b, for failure messages.
func tail(b []byte) string { return string(b[max(0, len(b)-120):]) }

func (c *client) endReason(t *testing.T) lifecycle.EndReason {
	t.Helper()
	select {
	case r := <-c.ended:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end within 5s")
		return ""
	}
}

func waitOrFail(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // the poll step; the deadline above bounds the wait
	}
}

func publish(t *testing.T, hb *hub.Hub, data string) string {
	t.Helper()
	res, err := hb.Publish(hub.Draft{Channels: []string{"news"}, Data: data, Retry: hub.NoRetry})
	if err != nil {
		t.Fatal(err)
	}
	return "id: " + res[0].ID.String() + "\ndata: " + strings.ReplaceAll(data, "\n", "\ndata: ") + "\n\n"
}

func TestDeliversExactBytesAndNoticesAClosedPeer(t *testing.T) {
	hb := newHub(t)
	e := newEngine(t, Settings{})
	cl := park(t, e, hb, 0, nil)
	want := "HEAD\n" + publish(t, hb, "one") + publish(t, hb, "two\nlines") + publish(t, hb, "three")
	if got := cl.readUntil(t, want); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	cl.Close()
	if r := cl.endReason(t); r != "client_gone" {
		t.Fatalf("end reason %q, want client_gone", r)
	}
	if n := hb.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left in the hub", n)
	}
	if n := e.Len(); n != 0 {
		t.Fatalf("%d connections left in the engine", n)
	}
}

// A client that stops reading fills its socket; the worker shared with a
// healthy client must go on serving that one, and drop the stuck one
// once the write timeout passes.
func TestStuckClientIsDroppedWithoutStallingItsWorker(t *testing.T) {
	hb := newHub(t)
	e := newEngine(t, Settings{WriteTimeout: 2 * time.Second})
	small := func(c *net.TCPConn) { _ = c.SetWriteBuffer(4096) }
	stuckConn := e.Prepare()
	healthyConn := e.Prepare()
	for healthyConn.worker != stuckConn.worker {
		healthyConn = e.Prepare()
	}
	stuck := parkConn(t, e, hb, stuckConn, 0, small)
	_ = stuck.Conn.(*net.TCPConn).SetReadBuffer(4096)
	healthy := parkConn(t, e, hb, healthyConn, 0, small)

	payload := strings.Repeat("x", 16<<10)
	var last string
	start := time.Now()
	for range 64 { // 1 MiB: far more than the stuck client's buffers hold
		last = publish(t, hb, payload)
		healthy.readUntil(t, last)
	}
	select {
	case <-stuck.ended:
		t.Fatal("the healthy client got its events only once the stuck one was dropped")
	default:
	}
	t.Logf("healthy client got 1 MiB in %v while the stuck one was blocked", time.Since(start))
	if r := stuck.endReason(t); r != "write_error" {
		t.Fatalf("stuck client's end reason %q, want write_error", r)
	}
	waitOrFail(t, "one subscriber left", func() bool { return hb.Subscribers() == 1 })
}

func TestHeartbeatLifetimeAndChannelClose(t *testing.T) {
	hb := newHub(t)
	e := newEngine(t, Settings{Heartbeat: 50 * time.Millisecond})

	beating := park(t, e, hb, 0, nil)
	beating.readUntil(t, "HEAD\n"+string(hub.Heartbeat))

	expiring := park(t, e, hb, 200*time.Millisecond, nil)
	if got := expiring.readToEOF(t); !strings.HasSuffix(got, string(retry)) {
		t.Fatalf("a stream past its lifetime ended with %q, want the retry hint last", got)
	}
	if r := expiring.endReason(t); r != "max_lifetime" {
		t.Fatalf("end reason %q, want max_lifetime", r)
	}

	if err := hb.CloseChannel("news"); err != nil {
		t.Fatal(err)
	}
	got := beating.readToEOF(t)
	if !strings.Contains(got, "event: "+hub.ClosedEvent+"\n") {
		t.Fatalf("a closed channel's stream ended with %q, want the %s event", got, hub.ClosedEvent)
	}
	if r := beating.endReason(t); r != "closed_by_hub" {
		t.Fatalf("end reason %q, want closed_by_hub", r)
	}
}

func TestDrainSpreadsClosesAndStopsTheEngine(t *testing.T) {
	hb := newHub(t)
	before := runtime.NumGoroutine()
	e := NewEngine(Settings{Heartbeat: time.Hour, WriteTimeout: time.Second, Retry: retry})
	var clients []*client
	for range 8 {
		clients = append(clients, park(t, e, hb, 0, nil))
	}
	event := publish(t, hb, "before the reload")
	start := time.Now()
	e.Drain(400 * time.Millisecond)
	var latest time.Duration
	for _, cl := range clients {
		got := cl.readToEOF(t)
		if got != "HEAD\n"+event+string(retry) {
			t.Fatalf("a drained stream got %q", got)
		}
		if r := cl.endReason(t); r != "reload_drain" {
			t.Fatalf("end reason %q, want reload_drain", r)
		}
		latest = max(latest, time.Since(start))
	}
	if latest > 2*time.Second {
		t.Fatalf("the last drained stream closed after %v, want within the 400ms window (plus ticks)", latest)
	}
	if e.Prepare() != nil {
		t.Fatal("a drained engine still takes connections")
	}
	e.Wait()
	waitOrFail(t, "goroutines back to where they were", func() bool { return runtime.NumGoroutine() <= before })
	if n := hb.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
}

func TestShutdownClosesEveryStreamAtOnce(t *testing.T) {
	hb := newHub(t)
	e := NewEngine(Settings{Heartbeat: time.Hour, WriteTimeout: time.Second, Retry: retry})
	var clients []*client
	for range 4 {
		clients = append(clients, park(t, e, hb, 0, nil))
	}
	start := time.Now()
	e.Shutdown(time.Second)
	if n := e.Len(); n != 0 {
		t.Fatalf("%d connections open after Shutdown returned", n)
	}
	for _, cl := range clients {
		cl.readToEOF(t)
		if r := cl.endReason(t); r != "shutdown" {
			t.Fatalf("end reason %q, want shutdown", r)
		}
	}
	e.Wait()
	t.Logf("shutdown of 4 streams took %v", time.Since(start))
}

// wrappedConn hides the socket, as a listener wrapper's connection may:
// the engine cannot write it without blocking, so it gets a worker of its
// own that blocks, up to the write timeout.
type wrappedConn struct{ net.Conn }

// proxyConn wraps like the PROXY protocol's listener wrapper, whose Raw
// method gives the socket back.
type proxyConn struct{ net.Conn }

func (p proxyConn) Raw() net.Conn { return p.Conn }

func TestWrappedConnections(t *testing.T) {
	hb := newHub(t)
	e := newEngine(t, Settings{WriteTimeout: time.Second})

	c := e.Prepare()
	proxied := parkWrapped(t, e, hb, c, func(sc net.Conn) net.Conn { return proxyConn{sc} }, nil)
	if c.raw == nil || !c.polled {
		t.Fatal("a PROXY-protocol connection is not written through its socket")
	}

	opaque := e.Prepare()
	shared := opaque.worker
	cl := parkWrapped(t, e, hb, opaque, func(sc net.Conn) net.Conn { return wrappedConn{sc} }, nil)
	if opaque.raw != nil || opaque.worker == shared {
		t.Fatal("an opaque connection shares a worker")
	}
	one, two := publish(t, hb, "one"), publish(t, hb, "two")
	for _, got := range []string{cl.readUntil(t, "HEAD\n"+one+two), proxied.readUntil(t, "HEAD\n"+one+two)} {
		if got != "HEAD\n"+one+two {
			t.Fatalf("got %q", got)
		}
	}

	// A stuck opaque client blocks only its own worker; the write timeout
	// drops it.
	stuck := parkWrapped(t, e, hb, e.Prepare(), func(sc net.Conn) net.Conn { return wrappedConn{sc} },
		func(c *net.TCPConn) { _ = c.SetWriteBuffer(4096) })
	_ = stuck.Conn.(*net.TCPConn).SetReadBuffer(4096)
	payload := strings.Repeat("x", 64<<10)
	for range 16 {
		last := publish(t, hb, payload)
		cl.readUntil(t, last)
		proxied.readUntil(t, last)
	}
	if r := stuck.endReason(t); r != "write_error" {
		t.Fatalf("stuck client's end reason %q, want write_error", r)
	}
	cl.Close()
	proxied.Close()
	if r := proxied.endReason(t); r != "client_gone" {
		t.Fatalf("a PROXY-protocol client that left ended with %q, want client_gone (noticed by the poller)", r)
	}
}

// Events published before a channel is closed reach the client before the
// closed event, which tells it not to come back for them.
func TestEventsBeforeAChannelCloseAreNotLost(t *testing.T) {
	hb := newHub(t)
	e := newEngine(t, Settings{})
	for range 20 {
		cl := park(t, e, hb, 0, nil)
		cl.readUntil(t, "HEAD\n")
		last := publish(t, hb, "final words")
		if err := hb.CloseChannel("news"); err != nil {
			t.Fatal(err)
		}
		got := cl.readToEOF(t)
		if i, j := strings.Index(got, last), strings.Index(got, hub.ClosedEvent); i < 0 || j < i {
			t.Fatalf("the stream ended with %q: want the last event before the closed event", got)
		}
	}
}

// parkWrapped is parkConn with the server side wrapped before adoption.
func parkWrapped(t *testing.T, e *Engine, hb *hub.Hub, c *Conn, wrap func(net.Conn) net.Conn, setup func(*net.TCPConn)) *client {
	t.Helper()
	return parkConnWith(t, e, hb, c, 0, setup, wrap)
}

// A write deadline someone sets on the socket after the hand-over (a
// wrapper finishing its request) must not end the stream.
func TestStaleWriteDeadlineIsCleared(t *testing.T) {
	hb := newHub(t)
	e := newEngine(t, Settings{})
	var server net.Conn
	cl := park(t, e, hb, 0, func(c *net.TCPConn) { server = c })
	cl.readUntil(t, "HEAD\n")
	_ = server.SetWriteDeadline(time.Now().Add(-time.Second))
	want := publish(t, hb, "after the deadline")
	cl.readUntil(t, want)
}

// The closing frame waits for a full socket, as a blocking write would on
// the normal path: a client that is behind when its channel closes still
// gets every event and then the closed event.
func TestClosingFrameWaitsForAFullSocket(t *testing.T) {
	hb := newHub(t)
	e := newEngine(t, Settings{})
	small := func(c *net.TCPConn) { _ = c.SetWriteBuffer(4096) }
	c := e.Prepare()
	// Only the server's buffer is made small: a tiny receive buffer on
	// loopback stalls TCP itself (window updates wait for the persist
	// timer).
	cl := parkConn(t, e, hb, c, 0, small)
	cl.readUntil(t, "HEAD\n")
	payload := strings.Repeat("y", 16<<10)
	var last string
	for range 64 { // 1 MiB: more than the two socket buffers hold
		last = publish(t, hb, payload)
	}
	waitOrFail(t, "the socket to fill", func() bool { return c.blockedSince.Load() != 0 })
	if err := hb.CloseChannel("news"); err != nil {
		t.Fatal(err)
	}
	got := cl.readToEOF(t)
	if i, j := strings.Index(got, last), strings.Index(got, "event: "+hub.ClosedEvent+"\n"); i < 0 || j < i {
		t.Fatalf("the stream (%d bytes) does not end with the last event, then the closed event", len(got))
	}
	if r := cl.endReason(t); r != "closed_by_hub" {
		t.Fatalf("end reason %q, want closed_by_hub", r)
	}
}
