package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080/x", "http://127.9.9.9/", "http://[::1]:2019", "http://localhost:2019"} {
		if err := loopbackOnly(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1/", "http://example.com/", "http://0.0.0.0:8080"} {
		if err := loopbackOnly(bad); err == nil {
			t.Errorf("%s was allowed", bad)
		}
	}
}

// TestSubscriberReadsChunkedStreams feeds a chunked SSE response whose chunk
// boundaries split lines, and checks every event is counted once, in order.
func TestSubscriberReadsChunkedStreams(t *testing.T) {
	now := time.Now().UnixNano()
	var body strings.Builder
	for seq := range 3 {
		body.WriteString("id: 1-" + strconv.Itoa(seq) + "\ndata: " + strconv.Itoa(seq) + " " + strconv.FormatInt(now, 10) + " xxxx\n\n")
	}
	stream := body.String()
	var chunked strings.Builder
	for len(stream) > 0 { // 7-byte chunks split lines anywhere
		n := min(7, len(stream))
		chunked.WriteString(strings.ToUpper(strconv.FormatInt(int64(n), 16)) + "\r\n" + stream[:n] + "\r\n")
		stream = stream[n:]
	}
	response := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked.String() + "0\r\n\r\n"

	server, client := net.Pipe()
	go func() {
		_, _ = server.Write([]byte(response))
		server.Close()
	}()
	stats := new(deliveryStats)
	s := &subscriber{conn: client, lastSeq: -1, stats: stats}
	ready := make(chan bool, 1)
	s.read(func(ok bool) { ready <- ok })
	if !<-ready {
		t.Fatal("a 200 response was not taken as ready")
	}
	if got := stats.received.Load(); got != 3 || stats.gaps.Load() != 0 || stats.duplicates.Load() != 0 {
		t.Errorf("received %d, gaps %d, duplicates %d; want 3, 0, 0", got, stats.gaps.Load(), stats.duplicates.Load())
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 100; i++ {
		h.observe(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{.5, 50 * time.Millisecond}, {.99, 99 * time.Millisecond}} {
		got := h.quantile(c.q)
		if got < c.want || got > c.want*106/100 {
			t.Errorf("quantile(%v) = %v, want %v within 5%%", c.q, got, c.want)
		}
	}
}
