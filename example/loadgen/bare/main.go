// Command bare is the load tool's reference: the Server-Sent Events
// broadcaster a Go programmer writes with net/http alone (a goroutine per
// stream, a buffered channel per subscriber, a write and a flush per
// event, each event encoded once), with no Caddy and no sse_hub. Its
// figures, measured in the same sitting as sse_hub's, show what net/http
// itself costs per stream and per delivery.
//
// It serves streams on every path of -http (plain HTTP/1.1) and -https
// (HTTP/2 or HTTP/1.1 over TLS, a self-signed certificate made at start),
// and takes publishes on -admin at /sse_hub/publish in the shape the load
// tool sends (JSON or NDJSON with a "data" field). Loopback only.
//
//	go run ./example/loadgen/bare &
//	go run ./example/loadgen -pid $! -admin http://127.0.0.1:2090 -site http://127.0.0.1:8090/news
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:8090", "plain HTTP/1.1 streams")
	httpsAddr := flag.String("https", "127.0.0.1:8493", "HTTPS streams (HTTP/2 or HTTP/1.1)")
	adminAddr := flag.String("admin", "127.0.0.1:2090", "publish endpoint")
	buffer := flag.Int("buffer", 1024, "events a subscriber may fall behind before it is dropped")
	flag.Parse()
	for _, a := range []string{*httpAddr, *httpsAddr, *adminAddr} {
		if host, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(host).IsLoopback() {
			log.Fatalf("%s: loopback addresses only", a)
		}
	}
	b := &broadcaster{subs: make(map[chan []byte]struct{}), buffer: *buffer}
	cert, err := selfSigned()
	if err != nil {
		log.Fatal(err)
	}
	streams := &http.Server{Addr: *httpAddr, Handler: b}
	secure := &http.Server{Addr: *httpsAddr, Handler: b, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	admin := &http.Server{Addr: *adminAddr, Handler: http.HandlerFunc(b.publish)}
	errs := make(chan error, 3)
	go func() { errs <- streams.ListenAndServe() }()
	go func() { errs <- secure.ListenAndServeTLS("", "") }()
	go func() { errs <- admin.ListenAndServe() }()
	log.Fatal(<-errs)
}

// broadcaster hands each published event, encoded once, to every stream.
type broadcaster struct {
	mu     sync.RWMutex
	subs   map[chan []byte]struct{}
	buffer int
	nextID int64
}

// ServeHTTP is one stream: it writes and flushes each event it is handed.
func (b *broadcaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	events := make(chan []byte, b.buffer)
	b.mu.Lock()
	b.subs[events] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, events)
		b.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	for {
		select {
		case frame, open := <-events:
			if !open {
				return // dropped: too far behind
			}
			if _, err := w.Write(frame); err != nil {
				return
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// publish takes one JSON event or an NDJSON batch and broadcasts each.
func (b *broadcaster) publish(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/sse_hub/publish" {
		http.NotFound(w, r)
		return
	}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var lastID int64
	for sc.Scan() {
		var ev struct {
			Data string `json:"data"`
		}
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		lastID = b.broadcast(ev.Data)
	}
	fmt.Fprintf(w, `{"id":"%d"}`+"\n", lastID)
}

// broadcast encodes the event once and hands the bytes to every stream;
// a stream whose channel is full is dropped (its channel closed).
func (b *broadcaster) broadcast(data string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	var frame strings.Builder
	frame.WriteString("id: " + strconv.FormatInt(b.nextID, 10) + "\n")
	for _, line := range strings.Split(data, "\n") {
		frame.WriteString("data: " + line + "\n")
	}
	frame.WriteString("\n")
	bytes := []byte(frame.String())
	for events := range b.subs {
		select {
		case events <- bytes:
		default:
			close(events)
			delete(b.subs, events)
		}
	}
	return b.nextID
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bare"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
