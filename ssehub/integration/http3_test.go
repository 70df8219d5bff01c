package integration

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"

	"github.com/quic-go/quic-go/http3"
)

// h3Client speaks only HTTP/3 (QUIC over UDP, on the HTTPS port) and
// trusts the test Caddy's internal CA. Compression is left to the test
// (streamBody), so what the server chose is visible.
func h3Client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http3.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: internalCA(t)},
		DisableCompression: true,
	}
	t.Cleanup(func() { tr.Close() })
	return &http.Client{Transport: tr}
}

// TestStreamingOverHTTP3 subscribes over HTTP/3, which Caddy serves on
// every HTTPS site by default and browsers use once they saw Alt-Svc, with
// and without encode in the route: each event arrives on its own, in
// order; then the client leaves, events are published while it is away,
// and it resumes with Last-Event-ID and gets exactly those, then live ones.
func TestStreamingOverHTTP3(t *testing.T) {
	loadCaddyfile(t, protocolSite())
	waitForTLS(t, tlsClient(t))
	h3 := h3Client(t)

	for _, encoding := range []string{"", "gzip, zstd"} {
		t.Run(fmt.Sprintf("Accept-Encoding %q", encoding), func(t *testing.T) {
			header := http.Header{}
			if encoding != "" {
				header.Set("Accept-Encoding", encoding)
				checkEncodeIsActive(t, h3, tlsSiteURL, encoding)
			}
			s := openH3Stream(t, h3, header)
			waitSubscribers(t, "protocols", "feed", 1)
			checkOneByOne(t, s, 20)
			last := publishJSON(t, `{"hub":"protocols","channel":"feed","data":"last seen"}`)
			if ev := s.next(t); ev.LastEventID != last.ID {
				t.Fatalf("got %+v, want event %s", ev, last.ID)
			}
			s.close()
			waitSubscribers(t, "protocols", "feed", 0)

			var missed []published
			for i := range 5 {
				p := publishJSON(t, fmt.Sprintf(`{"hub":"protocols","channel":"feed","event":"missed","data":"missed %d"}`, i))
				if p.Subscribers != 0 {
					t.Fatalf("an event published while the client was away reached %d subscribers", p.Subscribers)
				}
				missed = append(missed, p)
			}
			header.Set("Last-Event-ID", last.ID)
			s = openH3Stream(t, h3, header)
			for i, ev := range s.nextN(t, len(missed)) {
				if want := fmt.Sprintf("missed %d", i); ev.LastEventID != missed[i].ID || ev.Type != "missed" || ev.Data != want {
					t.Errorf("replayed event %d: got %+v, want id %s data %q", i, ev, missed[i].ID, want)
				}
			}
			waitSubscribers(t, "protocols", "feed", 1)
			live := publishJSON(t, `{"hub":"protocols","channel":"feed","data":"live again"}`)
			if ev := s.next(t); ev.LastEventID != live.ID || ev.Data != "live again" {
				t.Errorf("after the replay: got %+v, want the live event %s", ev, live.ID)
			}
			s.close()
			waitSubscribers(t, "protocols", "feed", 0)
		})
	}
}

// openH3Stream subscribes to the protocol site's feed and checks that the
// answer came over HTTP/3.
func openH3Stream(t *testing.T, client *http.Client, header http.Header) *stream {
	t.Helper()
	s, status, body := openStream(t, client, tlsSiteURL+"/events/feed", header)
	if status != http.StatusOK {
		t.Fatalf("GET over HTTP/3: %d %s", status, body)
	}
	if s.resp.ProtoMajor != 3 {
		t.Fatalf("stream came over %s, want HTTP/3", s.resp.Proto)
	}
	if enc := s.resp.Header.Get("Content-Encoding"); enc != "" {
		t.Logf("the stream came with Content-Encoding %s", enc)
	}
	return s
}
