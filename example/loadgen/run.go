package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// report holds what a run measured.
type report struct {
	cfg                  config
	established, failed  int64
	idleRSSPerConn       float64 // bytes; 0 without -pid
	published            int64
	publishErrors        int64
	publishElapsed       time.Duration
	expected             int64
	stats                *deliveryStats
	serverCPU, toolCPU   time.Duration
	serverCPUPerDelivery time.Duration
	publishLatency       *histogram
	deliveriesPerSecond  float64
}

func run(cfg config) (*report, error) {
	target, err := url.Parse(cfg.site)
	if err != nil {
		return nil, err
	}
	pid := strconv.Itoa(cfg.pid)
	rep := &report{cfg: cfg, stats: new(deliveryStats)}
	var rss0 int64
	if cfg.pid > 0 {
		if rss0, err = procRSS(pid); err != nil {
			return nil, err
		}
	}

	// Connect, a few at a time, spread over the source addresses.
	subs := make([]*subscriber, 0, cfg.subscribers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var established, failed atomic.Int64
	sem := make(chan struct{}, 64)
	for i := range cfg.subscribers {
		local := net.IPv4(127, 0, 0, byte(1+i%cfg.sources))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := dial(target, cfg.proto, local, rep.stats)
			if err != nil {
				failed.Add(1)
				return
			}
			ok := make(chan bool, 1)
			go s.read(func(good bool) { ok <- good })
			if !<-ok {
				failed.Add(1)
				return
			}
			established.Add(1)
			mu.Lock()
			subs = append(subs, s)
			mu.Unlock()
		})
	}
	wg.Wait()
	rep.established, rep.failed = established.Load(), failed.Load()
	defer func() {
		for _, s := range subs {
			s.close()
		}
	}()
	fmt.Printf("connected %d subscribers (%d failed); settling %v\n", rep.established, rep.failed, cfg.settle)
	time.Sleep(cfg.settle) // let the server's per-connection state settle before reading its memory
	if cfg.pid > 0 && rep.established > 0 {
		rss1, err := procRSS(pid)
		if err != nil {
			return nil, err
		}
		rep.idleRSSPerConn = float64(rss1-rss0) / float64(rep.established)
	}

	// Publish at the paced rate, measuring CPU on both sides.
	serverCPU0, _ := cpuOf(cfg.pid, pid)
	toolCPU0, _ := procCPU("self")
	pub := newPublisher(cfg)
	fmt.Printf("publishing %.0f events/s for %v\n", cfg.rate, cfg.duration)
	rep.publishElapsed = pub.run()
	rep.published, rep.publishErrors, rep.publishLatency = pub.sent, pub.errors, &pub.latency
	rep.expected = rep.published * rep.established
	// Wait for deliveries in flight, bounded.
	deadline := time.Now().Add(10 * time.Second)
	for rep.stats.received.Load() < rep.expected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	serverCPU1, _ := cpuOf(cfg.pid, pid)
	toolCPU1, _ := procCPU("self")
	rep.serverCPU, rep.toolCPU = serverCPU1-serverCPU0, toolCPU1-toolCPU0
	if n := rep.stats.received.Load(); n > 0 {
		rep.serverCPUPerDelivery = rep.serverCPU / time.Duration(n)
		rep.deliveriesPerSecond = float64(n) / rep.publishElapsed.Seconds()
	}
	return rep, nil
}

func cpuOf(pid int, pidText string) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	return procCPU(pidText)
}
