package lean

import (
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// BenchmarkEngineFanout is the lean path's fan-out as a server does it:
// each iteration publishes one event and waits until every one of n
// parked loopback connections has delivered it to its reader. ns/delivery
// is the whole cost of one delivery, readers included; compare it with
// hub's BenchmarkFanoutToSockets (the normal path's write) in one run.
func BenchmarkEngineFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			hb, err := hub.New("bench-lean", hub.Config{
				Channels:         map[string]hub.ChannelSettings{"prices": {HistorySize: 64}},
				SubscriberBuffer: 64,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(hb.Close)
			e := NewEngine(Settings{Heartbeat: time.Hour, WriteTimeout: 10 * time.Second, Retry: retry})
			b.Cleanup(func() { e.Shutdown(5 * time.Second); e.Wait() })

			var delivered, target atomic.Int64
			done := make(chan struct{}, 1)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			for range n {
				client, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { client.Close() })
				server, err := ln.Accept()
				if err != nil {
					b.Fatal(err)
				}
				go countFrames(client, &delivered, &target, done)
				c := e.Prepare()
				sub, err := hb.Subscribe(hub.SubscribeRequest{Channels: []string{"prices"}, Notify: c.Notify})
				if err != nil {
					b.Fatal(err)
				}
				e.Adopt(c, server, sub, nil, 0, nil)
			}
			d := hub.Draft{Channels: []string{"prices"}, Data: `{"symbol":"ACME","price":101.25}`, Retry: hub.NoRetry}
			b.ReportAllocs()
			events := 0
			for b.Loop() {
				target.Add(int64(n))
				if _, err := hb.Publish(d); err != nil {
					b.Fatal(err)
				}
				<-done
				events++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events*n), "ns/delivery")
		})
	}
}

// countFrames reads a stream of "id:" + "data:" frames (three line feeds
// each), adds each whole frame to delivered, and signals done when
// delivered reaches target.
func countFrames(conn net.Conn, delivered, target *atomic.Int64, done chan<- struct{}) {
	buf := make([]byte, 4096)
	lines := 0
	for {
		n, err := conn.Read(buf)
		lines += bytes.Count(buf[:n], []byte{'\n'})
		for ; lines >= 3; lines -= 3 {
			if delivered.Add(1) == target.Load() {
				done <- struct{}{}
			}
		}
		if err != nil {
			return
		}
	}
}
