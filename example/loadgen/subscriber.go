package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// subscriber is one SSE connection. Over HTTP/1.1 (plain or TLS) its
// goroutine decodes the chunked framing and SSE lines just far enough to
// read each event's sequence number and publish time; over HTTP/2 the
// client connection decodes frames and the goroutine reads the body.
type subscriber struct {
	conn    net.Conn      // the TCP or TLS connection
	body    io.ReadCloser // the response body over HTTP/2; nil over HTTP/1.1
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

// dial opens a subscription from the given local address: over TLS for an
// https URL (one connection per subscriber, as browsers do), speaking
// HTTP/2 when proto is "h2". Over HTTP/1.1 it only sends the request; read
// takes the response head.
func dial(target *url.URL, proto string, local net.IP, stats *deliveryStats) (*subscriber, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", target.Host)
	if err != nil {
		return nil, err
	}
	s := &subscriber{conn: conn, lastSeq: -1, stats: stats}
	if target.Scheme == "https" {
		tc := tls.Client(conn, tlsConfig(target, proto))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return nil, err
		}
		s.conn = tc
		if proto == "h2" {
			return s, s.roundTripH2(target)
		}
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", target.RequestURI(), target.Host)
	if _, err := s.conn.Write([]byte(req)); err != nil {
		s.conn.Close()
		return nil, err
	}
	return s, nil
}

// tlsConfig trusts any certificate: the tool only ever talks to loopback,
// where the server uses Caddy's internal CA.
func tlsConfig(target *url.URL, proto string) *tls.Config {
	next := []string{"http/1.1"}
	if proto == "h2" {
		next = []string{"h2"}
	}
	return &tls.Config{ServerName: target.Hostname(), NextProtos: next, InsecureSkipVerify: true}
}

// roundTripH2 opens the stream on its own HTTP/2 connection.
func (s *subscriber) roundTripH2(target *url.URL) error {
	cc, err := new(http2.Transport).NewClientConn(s.conn)
	if err != nil {
		s.conn.Close()
		return err
	}
	req, _ := http.NewRequest(http.MethodGet, target.String(), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := cc.RoundTrip(req)
	if err != nil {
		s.conn.Close()
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		s.conn.Close()
		return fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	s.body = resp.Body
	return nil
}

// close ends the subscription.
func (s *subscriber) close() {
	if s.body != nil {
		s.body.Close()
	}
	s.conn.Close()
}

// read consumes the stream until the connection closes. ready is called
// once the response head says 200.
func (s *subscriber) read(ready func(ok bool)) {
	defer s.close()
	if s.body != nil {
		ready(true) // roundTripH2 checked the status
		s.readBlocks(s.body, false)
		return
	}
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
	s.readBlocks(r, chunked)
}

// readBlocks reads the body block-wise: byte-at-a-time parsing made the
// tool, not the server, the bottleneck at high event rates.
func (s *subscriber) readBlocks(r io.Reader, chunked bool) {
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
