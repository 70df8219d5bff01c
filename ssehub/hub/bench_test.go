package hub

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var benchSink *Event

func multiLinePayload(size int) string {
	var b strings.Builder
	line := strings.Repeat("0123456789abcdef", 4)[:63]
	for b.Len()+len(line)+1 <= size {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteString(strings.Repeat("z", size-b.Len()))
	return b.String()
}

// BenchmarkEncode measures the one-time encoding of an event: newEvent as
// Publish calls it, and appendFrame alone into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	payloads := []struct {
		name string
		d    Draft
	}{
		{"small", Draft{Channels: []string{"prices"}, Type: "tick", Data: `{"symbol":"ACME","price":101.25}`, Retry: NoRetry}},
		{"4KiB-multiline", Draft{Channels: []string{"logs"}, Type: "chunk", Data: multiLinePayload(4096), Retry: NoRetry}},
	}
	id := ID{Ms: 1_750_000_000_000, Seq: 42}
	for _, p := range payloads {
		b.Run(p.name+"/newEvent", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.d.Data)))
			for b.Loop() {
				benchSink = newEvent(p.d, id, fixedTime)
			}
		})
		b.Run(p.name+"/appendFrame", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.d.Data)))
			ids := id.String()
			buf := make([]byte, 0, frameSize(ids, p.d.Type, p.d.Data, p.d.Retry))
			for b.Loop() {
				buf = appendFrame(buf[:0], ids, p.d.Type, p.d.Data, p.d.Retry)
			}
		})
	}
}

// BenchmarkPublishFanout publishes one event per iteration to a channel
// with n subscribers, each of which takes its wake signal and reads the
// event with Next into a reused buffer, as a stream goroutine does. ns/op
// is the cost of one event end to end; ns/delivery divides it by n.
//
// stats=off turns off the per-delivery counters behind the metrics, so the
// two variants side by side show what the metrics cost.
func BenchmarkPublishFanout(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		for _, stats := range []bool{true, false} {
			b.Run(fmt.Sprintf("subscribers=%d/stats=%s", n, onOff(stats)), func(b *testing.B) {
				benchmarkFanout(b, n, stats)
			})
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// fanoutSetup starts a hub with n subscribers on channel "prices" and
// returns them with the event the benchmarks publish.
func fanoutSetup(b *testing.B, n int, stats bool) (*Hub, []*Subscriber, Draft) {
	cfg := Config{Channels: map[string]ChannelSettings{"prices": {HistorySize: 64}}, SubscriberBuffer: 64}
	h, err := newHub("bench", cfg, time.Now, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	h.noDeliveryStats = !stats
	b.Cleanup(h.Close)
	subs := make([]*Subscriber, n)
	for i := range subs {
		if subs[i], err = h.Subscribe(SubscribeRequest{Channels: []string{"prices"}}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(subs[i].Close)
	}
	return h, subs, Draft{Channels: []string{"prices"}, Type: "tick", Data: `{"symbol":"ACME","price":101.25}`, Retry: NoRetry}
}

// fanoutLoop publishes one event per iteration and has every subscriber
// read it with Next and hand the bytes to deliver; it reports ns/delivery.
func fanoutLoop(b *testing.B, h *Hub, subs []*Subscriber, d Draft, deliver func(i int, out []byte)) {
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		res, err := h.Publish(d)
		if err != nil || res[0].Subscribers != len(subs) {
			b.Fatalf("Publish = %v, %v", res, err)
		}
		for i, s := range subs {
			<-s.Wake()
			out, more, err := s.Next(buf[:0], 4096)
			if err != nil || more || len(out) == 0 {
				b.Fatalf("Next = %d bytes, %v, %v", len(out), more, err)
			}
			deliver(i, out)
		}
		events++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events*len(subs)), "ns/delivery")
}

func benchmarkFanout(b *testing.B, n int, stats bool) {
	h, subs, d := fanoutSetup(b, n, stats)
	fanoutLoop(b, h, subs, d, func(int, []byte) {})
}

// BenchmarkNextMultiChannel measures Next merging the logs of k channels:
// each iteration reads the same 1024 events (an eighth of them published
// to two of the channels) from rewound cursors.
func BenchmarkNextMultiChannel(b *testing.B) {
	const events = 1024
	for _, k := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("channels=%d", k), func(b *testing.B) {
			cfg := Config{Channels: map[string]ChannelSettings{}, SubscriberBuffer: 16}
			names := make([]string, k)
			for i := range names {
				names[i] = fmt.Sprintf("ch%02d", i)
				cfg.Channels[names[i]] = ChannelSettings{HistorySize: 2 * events}
			}
			h, err := newHub("bench", cfg, time.Now, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			res, err := h.Publish(Draft{Channels: names[:1], Data: "start", Retry: NoRetry})
			if err != nil {
				b.Fatal(err)
			}
			for i := range events {
				chans := []string{names[i%k]}
				if i%8 == 0 && k > 1 {
					chans = append(chans, names[(i+1)%k])
				}
				if _, err := h.Publish(Draft{Channels: chans, Type: "tick", Data: `{"symbol":"ACME","price":101.25}`, Retry: NoRetry}); err != nil {
					b.Fatal(err)
				}
			}
			s, err := h.Subscribe(SubscribeRequest{Channels: names, LastEventID: res[0].ID.String()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			start := make([]uint64, len(s.cursors))
			for i := range s.cursors {
				start[i] = s.cursors[i].pos
			}
			buf := make([]byte, 0, 32<<10)
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				iters++
				for i := range s.cursors {
					s.cursors[i].pos = start[i]
				}
				read := 0
				for {
					out, more, err := s.Next(buf[:0], 16<<10)
					if err != nil {
						b.Fatal(err)
					}
					read += len(out)
					if !more {
						break
					}
				}
				if read == 0 {
					b.Fatal("nothing read")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*events), "ns/event")
		})
	}
}

// BenchmarkFanoutToSockets is the fan-out as a server does it: each of 100
// subscribers' batches is written to its own loopback TCP connection
// (drained by a reader on the other end). ns/delivery is the whole cost of
// one delivery; stats=on vs stats=off is what the metrics add to it.
func BenchmarkFanoutToSockets(b *testing.B) {
	for _, stats := range []bool{true, false} {
		b.Run("subscribers=100/stats="+onOff(stats), func(b *testing.B) {
			h, subs, d := fanoutSetup(b, 100, stats)
			conns := loopbackConns(b, len(subs))
			fanoutLoop(b, h, subs, d, func(i int, out []byte) {
				if _, err := conns[i].Write(out); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// loopbackConns returns the server ends of n loopback TCP connections whose
// client ends are drained until the benchmark ends.
func loopbackConns(b *testing.B, n int) []net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	conns := make([]net.Conn, n)
	for i := range conns {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if conns[i], err = ln.Accept(); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(io.Discard, client)
		}()
		b.Cleanup(func() {
			conns[i].Close()
			<-done
			client.Close()
		})
	}
	return conns
}

// BenchmarkReplay measures a resuming subscriber reading 1,000 events of
// history through Next in 32 KiB writes, as a stream does.
func BenchmarkReplay(b *testing.B) {
	cfg := Config{Channels: map[string]ChannelSettings{"news": {HistorySize: 1000}}, SubscriberBuffer: 16}
	h, err := newHub("bench", cfg, time.Now, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	first, err := h.Publish(Draft{Channels: []string{"news"}, Data: "first", Retry: NoRetry})
	if err != nil {
		b.Fatal(err)
	}
	for range 999 {
		if _, err := h.Publish(Draft{Channels: []string{"news"}, Data: `{"symbol":"ACME","price":101.25}`, Retry: NoRetry}); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, 0, 40<<10)
	b.ReportAllocs()
	for b.Loop() {
		s, err := h.Subscribe(SubscribeRequest{Channels: []string{"news"}, LastEventID: first[0].ID.String()})
		if err != nil {
			b.Fatal(err)
		}
		for more := true; more; {
			var out []byte
			if out, more, err = s.Next(buf[:0], 32<<10); err != nil || len(out) == 0 {
				b.Fatalf("Next = %d bytes, %v", len(out), err)
			}
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*999), "ns/event")
}

// BenchmarkPublishWithReaders publishes one small event per iteration to a
// channel that readers keep replaying 1,000 events of 1 KiB from, in 32
// KiB reads, as resuming streams do. It shows how much readers copying
// bytes hold up a publish: p99-ns and p999-ns are percentiles of one
// Publish call.
func BenchmarkPublishWithReaders(b *testing.B) {
	for _, readers := range []int{0, 8, 64} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			cfg := Config{Channels: map[string]ChannelSettings{"news": {HistorySize: 1000}}, SubscriberBuffer: 1024}
			h, err := newHub("bench", cfg, time.Now, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			first, err := h.Publish(Draft{Channels: []string{"news"}, Data: "first", Retry: NoRetry})
			if err != nil {
				b.Fatal(err)
			}
			big := Draft{Channels: []string{"news"}, Data: strings.Repeat("x", 1024), Retry: NoRetry}
			for range 999 {
				if _, err := h.Publish(big); err != nil {
					b.Fatal(err)
				}
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range readers {
				wg.Go(func() {
					buf := make([]byte, 0, 40<<10)
					for {
						select {
						case <-stop:
							return
						default:
						}
						s, err := h.Subscribe(SubscribeRequest{Channels: []string{"news"}, LastEventID: first[0].ID.String()})
						if err != nil {
							panic(err)
						}
						for more := true; more; {
							if _, more, err = s.Next(buf[:0], 32<<10); err != nil {
								break
							}
						}
						s.Close()
					}
				})
			}
			small := Draft{Channels: []string{"news"}, Data: "tick", Retry: NoRetry}
			var took []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if _, err := h.Publish(small); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			close(stop)
			wg.Wait()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(took[len(took)*999/1000].Nanoseconds()), "p999-ns")
		})
	}
}
