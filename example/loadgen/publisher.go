package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// publisher sends timestamped events through the admin API at a paced
// rate: one JSON event per request, or NDJSON batches.
type publisher struct {
	cfg     config
	client  *http.Client
	latency histogram
	sent    int64 // events acknowledged
	errors  int64
}

func newPublisher(cfg config) *publisher {
	return &publisher{cfg: cfg, client: &http.Client{Timeout: 10 * time.Second}}
}

// run publishes until the duration is over; it never sends faster than
// the rate, and reports a late request rather than piling requests up.
func (p *publisher) run() (elapsed time.Duration) {
	interval := time.Duration(float64(time.Second) * float64(p.cfg.batch) / p.cfg.rate)
	start := time.Now()
	next := start
	var seq int64
	for time.Since(start) < p.cfg.duration {
		if wait := time.Until(next); wait > 0 {
			time.Sleep(wait) // pacing, the point of a load generator
		}
		next = next.Add(interval)
		body, contentType := p.body(seq)
		t0 := time.Now()
		resp, err := p.client.Post(p.cfg.admin+"/sse_hub/publish", contentType, body)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		p.latency.observe(time.Since(t0))
		if err != nil || resp.StatusCode != http.StatusOK {
			p.errors++
			if p.errors == 1 {
				fmt.Printf("first publish error: %v %v\n", err, statusOf(resp))
			}
			continue
		}
		seq += int64(p.cfg.batch)
		p.sent = seq
	}
	return time.Since(start)
}

// body builds a request of cfg.batch events numbered from seq.
func (p *publisher) body(seq int64) (io.Reader, string) {
	var b bytes.Buffer
	for i := range int64(p.cfg.batch) {
		data := strconv.FormatInt(seq+i, 10) + " " + strconv.FormatInt(time.Now().UnixNano(), 10) + " "
		data += strings.Repeat("x", max(0, p.cfg.size-len(data)))
		fmt.Fprintf(&b, `{"hub":%q,"channel":%q,"data":%q}`+"\n", p.cfg.hub, p.cfg.channel, data)
	}
	if p.cfg.batch == 1 {
		return &b, "application/json"
	}
	return &b, "application/x-ndjson"
}

func statusOf(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	return resp.Status
}
