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
	// Block-wise from here: byte-at-a-time parsing made the tool, not the
	// server, the bottleneck at high event rates.
	var dechunk chunkDecoder
	buf := make([]byte, 32<<10)
	var payload, line []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			payload = buf[:n]
			if chunked {
				payload = dechunk.decode(payload)
			}
			line = s.lines(line, payload)
		}
		if err != nil || dechunk.done {
			return
		}
	}
}

// lines feeds stream bytes through the SSE line scanner; partial is the
// unfinished line from the previous call, and the new one is returned.
func (s *subscriber) lines(partial, data []byte) []byte {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return append(partial, data...)
		}
		var line []byte
		if len(partial) > 0 {
			line = append(partial, data[:i]...)
			partial = partial[:0]
		} else {
			line = data[:i]
		}
		if bytes.HasPrefix(line, []byte("data: ")) {
			s.event(line[len("data: "):])
		}
		data = data[i+1:]
	}
	return partial
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

// chunkDecoder strips HTTP/1.1 chunked framing from blocks of a stream,
// compacting each block's payload in place.
type chunkDecoder struct {
	left    int64  // payload bytes left in the current chunk
	size    []byte // a chunk-size line being read
	skipEOL int    // CR/LF bytes still to skip after a chunk's payload
	done    bool   // the last (empty) chunk was seen
}

func (c *chunkDecoder) decode(block []byte) []byte {
	out := block[:0]
	for len(block) > 0 && !c.done {
		switch {
		case c.left > 0:
			n := min(int64(len(block)), c.left)
			out = append(out, block[:n]...) // in place: out never passes block
			block, c.left = block[n:], c.left-n
			if c.left == 0 {
				c.skipEOL = 2
			}
		case c.skipEOL > 0:
			block, c.skipEOL = block[1:], c.skipEOL-1
		default:
			i := bytes.IndexByte(block, '\n')
			if i < 0 {
				c.size = append(c.size, block...)
				block = block[:0]
				continue
			}
			c.size = append(c.size, block[:i]...)
			block = block[i+1:]
			text := bytes.TrimSpace(c.size)
			if j := bytes.IndexByte(text, ';'); j >= 0 {
				text = text[:j]
			}
			c.size = c.size[:0]
			if len(text) == 0 {
				continue
			}
			n, err := strconv.ParseInt(string(text), 16, 64)
			if err != nil || n == 0 {
				c.done = true
				continue
			}
			c.left = n
		}
	}
	return out
}
