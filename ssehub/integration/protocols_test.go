package integration

import (
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The streaming tests publish one event, wait until it has arrived, and
// only then publish the next: a stream that batched events (an encoder
// buffering them, a missing flush) would stall at the first event. The
// heartbeat is an hour, so no heartbeat write can flush a stuck event out.

// protocolSite serves one hub on the plain-HTTP site and on the HTTPS site
// (Caddy's internal CA, so HTTP/2 is negotiated with ALPN), both with
// encode in the same route as sse_hub, and a compressible text response
// beside it that shows encode is really active on that route.
func protocolSite() string {
	route := `
	route {
		encode gzip zstd
		sse_hub /events/* {
			hub protocols
			channel feed
			heartbeat 1h
		}
		respond /text "` + strings.Repeat("compress me ", 200) + `"
	}`
	return `
http://` + siteAddr + ` {` + route + `
}

https://` + tlsSiteAddr + ` {
	tls internal` + route + `
}`
}

// tlsClient returns a client that trusts the test Caddy's internal CA and
// speaks HTTP/2.
func tlsClient(t *testing.T) *http.Client {
	t.Helper()
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: internalCA(t)},
		ForceAttemptHTTP2:     true,
		ResponseHeaderTimeout: 10 * time.Second,
		DisableCompression:    true,
	}}
}

// internalCA is the test Caddy's internal CA root, read from the admin
// API (never installed anywhere).
func internalCA(t *testing.T) *x509.CertPool {
	t.Helper()
	status, body := adminRequest(t, http.MethodGet, "/pki/ca/local", "", "")
	if status != http.StatusOK {
		t.Fatalf("reading the internal CA: %d %s", status, body)
	}
	var ca struct {
		Root string `json:"root_certificate"`
	}
	mustUnmarshal(t, body, &ca)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(ca.Root)) {
		t.Fatalf("no certificate in the CA answer %s", body)
	}
	return roots
}

// waitForTLS waits until the site's certificate is issued (Caddy obtains it
// in the background after the config loads).
func waitForTLS(t *testing.T, client *http.Client) {
	t.Helper()
	waitFor(t, "a TLS handshake with the internal certificate", 30*time.Second, func() bool {
		resp, err := client.Get(tlsSiteURL + "/text")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestStreamingOverEveryProtocol(t *testing.T) {
	loadCaddyfile(t, protocolSite())
	h2 := tlsClient(t)
	waitForTLS(t, h2)
	h1 := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 10 * time.Second, DisableCompression: true}}

	cases := []struct {
		name      string
		client    *http.Client
		base      string
		encoding  string // Accept-Encoding sent, "" for none
		wantProto int
	}{
		{"HTTP/1.1", h1, siteURL, "", 1},
		{"HTTP/1.1 behind encode", h1, siteURL, "gzip, zstd", 1},
		{"HTTP/2 over TLS", h2, tlsSiteURL, "", 2},
		{"HTTP/2 over TLS behind encode", h2, tlsSiteURL, "gzip, zstd", 2},
		{"HTTP/2 over TLS behind encode, zstd only", h2, tlsSiteURL, "zstd", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header := http.Header{}
			if c.encoding != "" {
				header.Set("Accept-Encoding", c.encoding)
				checkEncodeIsActive(t, c.client, c.base, c.encoding)
			}
			s, status, body := openStream(t, c.client, c.base+"/events/feed", header)
			if status != http.StatusOK {
				t.Fatalf("GET: %d %s", status, body)
			}
			if s.resp.ProtoMajor != c.wantProto {
				t.Fatalf("stream came over %s, want HTTP/%d", s.resp.Proto, c.wantProto)
			}
			// Caddy's encode compresses event streams too, flushing the
			// compressor on every flush, so each event still arrives at
			// once; streamBody decodes what it chose.
			if enc := s.resp.Header.Get("Content-Encoding"); enc != "" {
				t.Logf("the stream came with Content-Encoding %s", enc)
			}
			waitSubscribers(t, "protocols", "feed", 1)
			checkOneByOne(t, s, 30)
			s.close()
			waitSubscribers(t, "protocols", "feed", 0)
		})
	}
}

// checkEncodeIsActive shows that encode compresses an ordinary response of
// the same route for this client, so a stream that arrives uncompressed and
// event by event really went through the encoder.
func checkEncodeIsActive(t *testing.T, client *http.Client, base, acceptEncoding string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/text", nil)
	req.Header.Set("Accept-Encoding", acceptEncoding)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if enc := resp.Header.Get("Content-Encoding"); enc != "gzip" && enc != "zstd" {
		t.Fatalf("a text response of the same route came with Content-Encoding %q: encode is not active, the test would prove nothing", enc)
	}
	if enc := resp.Header.Get("Content-Encoding"); enc == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(zr); !strings.HasPrefix(string(b), "compress me") {
			t.Fatalf("compressed text response decodes to %.40q", b)
		}
	}
}

// checkOneByOne publishes n events, each only after the previous one has
// reached the stream, including a 256 KiB one followed by a tiny one (which
// must not wait behind it in some buffer).
func checkOneByOne(t *testing.T, s *stream, n int) {
	t.Helper()
	var slowest time.Duration
	for i := range n {
		data := fmt.Sprintf("event %d", i)
		if i == n/2 {
			data = strings.Repeat("b", 256<<10)
		}
		start := time.Now()
		p := publishJSON(t, `{"hub":"protocols","channel":"feed","data":`+jsonString(data)+`}`)
		if p.Subscribers != 1 {
			t.Fatalf("event %d queued to %d subscribers, want 1", i, p.Subscribers)
		}
		ev := s.next(t) // fails the test if the event does not come within 10s
		if ev.Data != data || ev.LastEventID != p.ID {
			t.Fatalf("event %d: got id %q data %.40q, want %q %.40q", i, ev.LastEventID, ev.Data, p.ID, data)
		}
		slowest = max(slowest, time.Since(start))
	}
	t.Logf("%d events one by one, slowest publish-to-arrival %v", n, slowest)
}

// TestHTTP2CarriesManyStreamsOnOneConnection opens more streams than a
// browser allows HTTP/1.1 connections per origin (6) and checks that they
// share one HTTP/2 connection and all receive every event.
func TestHTTP2CarriesManyStreamsOnOneConnection(t *testing.T) {
	loadCaddyfile(t, protocolSite())
	client := tlsClient(t)
	waitForTLS(t, client) // this also opens the connection the streams reuse

	const n = 10
	var newConns atomic.Int32
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			newConns.Add(1)
		}
	}}
	streams := make([]*stream, n)
	for i := range streams {
		req, _ := http.NewRequest(http.MethodGet, tlsSiteURL+"/events/feed", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		streams[i] = openTracedStream(t, client, req)
		if streams[i].resp.ProtoMajor != 2 {
			t.Fatalf("stream %d came over %s, want HTTP/2", i, streams[i].resp.Proto)
		}
	}
	if got := newConns.Load(); got != 0 {
		t.Errorf("%d streams opened %d new connections, want all on the existing HTTP/2 connection", n, got)
	}
	waitSubscribers(t, "protocols", "feed", n)
	for i := range 3 {
		p := publishJSON(t, fmt.Sprintf(`{"hub":"protocols","channel":"feed","data":"to all %d"}`, i))
		if p.Subscribers != n {
			t.Errorf("event %d queued to %d subscribers, want %d", i, p.Subscribers, n)
		}
		for j, s := range streams {
			if ev := s.next(t); ev.LastEventID != p.ID {
				t.Errorf("stream %d: got %+v, want event %s", j, ev, p.ID)
			}
		}
	}
}

// openTracedStream is openStream for a prepared request.
func openTracedStream(t *testing.T, client *http.Client, req *http.Request) *stream {
	t.Helper()
	s, status, body := openStreamRequest(t, client, req)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", req.URL, status, body)
	}
	return s
}
