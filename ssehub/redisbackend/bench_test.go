package redisbackend

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// benchPair starts two nodes on one stream and subscribes on the second
// to "news": publish on a, receive on sub.
func benchPair(b *testing.B) (*hub.Hub, *hub.Subscriber) {
	prefix := benchPrefix(b)
	a := benchNode(b, prefix)
	sub, err := benchNode(b, prefix).Subscribe(hub.SubscribeRequest{Channels: []string{"news"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sub.Close)
	return a, sub
}

// BenchmarkCrossNodePublishToReceive publishes on one hub and waits until
// a subscriber of another hub following the same stream (a second node)
// has the event: the hub-and-Redis part of cross-node latency, without
// HTTP. ns/op is the mean; p50 and p99 are reported too.
func BenchmarkCrossNodePublishToReceive(b *testing.B) {
	a, sub := benchPair(b)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := a.Publish(hub.Draft{Channels: []string{"news"}, Data: strconv.Itoa(i), Retry: hub.NoRetry}); err != nil {
			b.Fatal(err)
		}
		for got := false; !got; {
			out, _, err := sub.Next(nil, 1<<16)
			if err != nil {
				b.Fatal(err)
			}
			if len(out) == 0 {
				<-sub.Wake()
				continue
			}
			got = true
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkBatchThroughput publishes batches of 100 events on one node and
// counts them arriving at another's subscriber: events/s through Redis.
func BenchmarkBatchThroughput(b *testing.B) {
	a, sub := benchPair(b)
	batch := make([]hub.Draft, 100)
	for i := range batch {
		batch[i] = hub.Draft{Channels: []string{"news"}, Data: `{"price":123.45,"symbol":"ABC"}`, Retry: hub.NoRetry}
	}
	received := make(chan int)
	go func() {
		n := 0
		for n < b.N*len(batch) {
			out, _, err := sub.Next(nil, 1<<20)
			if err != nil {
				break
			}
			if len(out) == 0 {
				<-sub.Wake()
				continue
			}
			n += countEvents(out)
		}
		received <- n
	}()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := a.Publish(batch...); err != nil {
			b.Fatal(err)
		}
	}
	n := <-received
	b.StopTimer()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

func countEvents(frames []byte) int {
	n := 0
	for i := 0; i+1 < len(frames); i++ {
		if frames[i] == '\n' && frames[i+1] == '\n' {
			n++
		}
	}
	return n
}

func benchPrefix(b *testing.B) string {
	b.Helper()
	prefix := "ssehub-bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	b.Cleanup(func() {
		bk := newBackend(prefix, redisAddr, 0)
		defer bk.Close()
		_ = bk.Delete(context.Background()) // b.Context() is already cancelled here
	})
	return prefix
}

func benchNode(b *testing.B, prefix string) *hub.Hub {
	b.Helper()
	h, err := hub.New("test", hub.Config{
		Channels:         map[string]hub.ChannelSettings{"news": {HistorySize: 1000}},
		SubscriberBuffer: 1 << 20,
		Limits:           hub.Limits{SubscriberBufferBytes: 1 << 30},
	})
	if err != nil {
		b.Fatal(err)
	}
	h.SetBackend(newBackend(prefix, redisAddr, 100_000), nil)
	b.Cleanup(h.Close)
	return h
}
