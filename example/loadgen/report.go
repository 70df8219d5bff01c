package main

import (
	"fmt"
	"io"
)

func (r *report) print(w io.Writer) {
	received := r.stats.received.Load()
	fmt.Fprintf(w, "\n== sse_hub load run: %d subscribers, %.0f events/s of %d bytes, batch %d, %v ==\n",
		r.cfg.subscribers, r.cfg.rate, r.cfg.size, r.cfg.batch, r.cfg.duration)
	fmt.Fprintf(w, "connections:        %d established, %d failed\n", r.established, r.failed)
	if r.cfg.pid > 0 {
		fmt.Fprintf(w, "server idle memory: %.1f kB RSS per subscriber\n", r.idleRSSPerConn/1000)
	}
	fmt.Fprintf(w, "published:          %d events in %v (%.1f/s), %d failed requests\n",
		r.published, r.publishElapsed.Round(1e6), float64(r.published)/r.publishElapsed.Seconds(), r.publishErrors)
	fmt.Fprintf(w, "publish request:    p50 %v  p99 %v  max %v\n",
		r.publishLatency.quantile(.5), r.publishLatency.quantile(.99), r.publishLatency.quantile(1))
	fmt.Fprintf(w, "deliveries:         %d of %d expected (loss %d), %.0f/s; gaps %d, duplicates %d\n",
		received, r.expected, r.expected-received, r.deliveriesPerSecond, r.stats.gaps.Load(), r.stats.duplicates.Load())
	fmt.Fprintf(w, "publish->receive:   p50 %v  p99 %v  max %v\n",
		r.stats.latency.quantile(.5), r.stats.latency.quantile(.99), r.stats.latency.quantile(1))
	if r.cfg.pid > 0 {
		fmt.Fprintf(w, "server CPU:         %v total, %.2f µs per delivery\n", r.serverCPU, float64(r.serverCPUPerDelivery.Nanoseconds())/1000)
	}
	fmt.Fprintf(w, "loadgen CPU:        %v (it shares the machine)\n", r.toolCPU)
}
