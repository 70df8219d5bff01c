package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// subscriber is one raw SSE connection. Its goroutine decodes HTTP/1.1
// chunked framing and SSE lines just far enough to read each event's
// sequence number and publish time.
type subscriber struct {
	conn    net.Conn
	lastSeq int64
	stats   *deliveryStats
}

// deliveryStats are shared by all subscribers.
type deliveryStats struct {
	received   atomic.Int64
	gaps       atomic.Int64 // an event skipped (out of order or lost)
	duplicates atomic.Int64
	latency    histogram
}

// dial opens a subscription from the given local address and reads the
// response head.
func dial(target *url.URL, local net.IP, stats *deliveryStats) (*subscriber, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", target.Host)
	if err != nil {
		return nil, err
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", target.RequestURI(), target.Host)
	if _, err := conn.Write([]byte(req)); err != nil {
		conn.Close()
		return nil, err
	}
	return &subscriber{conn: conn, lastSeq: -1, stats: stats}, nil
}

// read consumes the stream until the connection closes. ready is called
// once the response head says 200.
func (s *subscriber) read(ready func(ok bool)) {
	defer s.conn.Close()
	r := bufio.NewReaderSize(s.conn, 4096)
	status, err := r.ReadString('\n')
	if err != nil || !bytes.Contains([]byte(status), []byte(" 200 ")) {
		ready(false)
		return
	}
	chunked := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			ready(false)
			return
		}
		if len(line) >= 26 && bytes.EqualFold([]byte(line[:26]), []byte("transfer-encoding: chunked")) {
			chunked = true
		}
		if line == "\r\n" {
			break
		}
	}
	ready(true)
	var body bodyReader = r
	if chunked {
		body = &chunkReader{r: r}
	}
	var line []byte
	for {
		b, err := body.ReadByte()
		if err != nil {
			return
		}
		if b != '\n' {
			line = append(line, b)
			continue
		}
		if bytes.HasPrefix(line, []byte("data: ")) {
			s.event(line[len("data: "):])
		}
		line = line[:0]
	}
}

// event handles the data "<seq> <unix-nanos> <padding>".
func (s *subscriber) event(data []byte) {
	now := time.Now().UnixNano()
	seqText, rest, _ := bytes.Cut(data, []byte(" "))
	tsText, _, _ := bytes.Cut(rest, []byte(" "))
	seq, err1 := strconv.ParseInt(string(seqText), 10, 64)
	ts, err2 := strconv.ParseInt(string(tsText), 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	switch {
	case seq <= s.lastSeq:
		s.stats.duplicates.Add(1)
		return
	case s.lastSeq >= 0 && seq != s.lastSeq+1:
		s.stats.gaps.Add(seq - s.lastSeq - 1)
	}
	s.lastSeq = seq
	s.stats.received.Add(1)
	s.stats.latency.observe(time.Duration(now - ts))
}

type bodyReader interface{ ReadByte() (byte, error) }

// chunkReader strips HTTP/1.1 chunked framing.
type chunkReader struct {
	r    *bufio.Reader
	left int64 // bytes left in the current chunk
}

func (c *chunkReader) ReadByte() (byte, error) {
	for c.left == 0 {
		sizeLine, err := c.r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		sizeText := bytes.TrimSpace([]byte(sizeLine))
		if i := bytes.IndexByte(sizeText, ';'); i >= 0 {
			sizeText = sizeText[:i]
		}
		if len(sizeText) == 0 {
			continue // the CRLF after a chunk's data
		}
		n, err := strconv.ParseInt(string(sizeText), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("bad chunk size %q", sizeText)
		}
		if n == 0 {
			return 0, fmt.Errorf("end of stream")
		}
		c.left = n
	}
	c.left--
	return c.r.ReadByte()
}
