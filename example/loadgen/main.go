// Command loadgen drives an sse_hub with many subscribers and paced
// publishes, on loopback only, and reports delivery, loss, latency and the
// server process's memory and CPU per subscriber and per delivery.
//
//	go run ./example/loadgen -n 10000 -rate 50 -duration 20s -pid $(pgrep -f 'example run')
//
// Each subscriber is a raw TCP connection read by a tiny parser (no
// net/http per connection), so the tool stays cheaper per event than the
// server it measures. An https -site is measured the way browsers meet
// Caddy: one TLS connection per subscriber, HTTP/1.1 (-proto h1) or
// HTTP/2 (-proto h2). Subscribers are spread over several 127.0.0.x source
// addresses, because one source address gives only ~28k ports.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Bounds that keep a run from hurting the machine it shares.
const (
	maxSubscribers = 19_990 // one process may hold 20,000 file descriptors
	maxDuration    = 5 * time.Minute
	maxRate        = 100_000
)

func main() {
	cfg := config{}
	flag.StringVar(&cfg.site, "site", "http://127.0.0.1:8080/events/news", "stream URL subscribers open (loopback only)")
	flag.StringVar(&cfg.admin, "admin", "http://127.0.0.1:2019", "Caddy admin endpoint (loopback only)")
	flag.StringVar(&cfg.hub, "hub", "default", "hub to publish to")
	flag.StringVar(&cfg.channel, "channel", "news", "channel to publish to")
	flag.StringVar(&cfg.proto, "proto", "h1", "protocol of an https -site: h1 (HTTP/1.1 over TLS) or h2 (HTTP/2, as browsers negotiate it); each subscriber has its own connection")
	flag.IntVar(&cfg.subscribers, "n", 1000, fmt.Sprintf("subscribers to open (at most %d)", maxSubscribers))
	flag.IntVar(&cfg.sources, "sources", 8, "source addresses to spread subscribers over (127.0.0.1 to 127.0.0.N)")
	flag.Float64Var(&cfg.rate, "rate", 50, "events published per second")
	flag.IntVar(&cfg.batch, "batch", 1, "events per publish request (NDJSON when > 1)")
	flag.IntVar(&cfg.size, "size", 100, "bytes of data per event")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, fmt.Sprintf("publishing time (at most %v)", maxDuration))
	flag.DurationVar(&cfg.settle, "settle", 3*time.Second, "wait after connecting before measuring idle memory")
	flag.IntVar(&cfg.pid, "pid", 0, "PID of the Caddy process, to read its memory and CPU from /proc")
	flag.Parse()
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	rep, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
}

type config struct {
	site, admin, hub, channel string
	proto                     string
	subscribers, sources      int
	rate                      float64
	batch, size               int
	duration, settle          time.Duration
	pid                       int
}

func (c config) check() error {
	for _, u := range []string{c.site, c.admin} {
		if err := loopbackOnly(u); err != nil {
			return err
		}
	}
	switch {
	case c.proto != "h1" && c.proto != "h2":
		return fmt.Errorf("-proto must be h1 or h2")
	case c.proto == "h2" && !strings.HasPrefix(c.site, "https://"):
		return fmt.Errorf("-proto h2 needs an https -site")
	case c.subscribers < 1 || c.subscribers > maxSubscribers:
		return fmt.Errorf("-n must be 1 to %d", maxSubscribers)
	case c.sources < 1 || c.sources > 250:
		return fmt.Errorf("-sources must be 1 to 250")
	case c.rate <= 0 || c.rate > maxRate:
		return fmt.Errorf("-rate must be above 0 and at most %d", maxRate)
	case c.batch < 1 || c.batch > 10000:
		return fmt.Errorf("-batch must be 1 to 10000")
	case c.size < 40:
		return fmt.Errorf("-size must be at least 40 bytes (the timestamp and sequence)")
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("-duration must be above 0 and at most %v", maxDuration)
	}
	return nil
}

// loopbackOnly refuses any URL whose host is not a loopback IP.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: only loopback addresses (127.0.0.0/8, ::1) may be load-tested", raw)
	}
	return nil
}
