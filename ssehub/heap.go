package ssehub

import (
	"runtime/metrics"
	"sync"
	"time"
)

// heapSampleEvery bounds how often the heap size is read: admission checks
// run per connection, and a slightly stale figure is fine for a watermark.
const heapSampleEvery = 100 * time.Millisecond

// heapSampler caches the Go heap size, read with runtime/metrics (cheap,
// no stop-the-world, unlike runtime.ReadMemStats).
var heapSampler struct {
	mu     sync.Mutex
	sample [1]metrics.Sample
	at     time.Time
	bytes  uint64
}

func init() {
	heapSampler.sample[0].Name = "/memory/classes/heap/objects:bytes"
}

// heapBytes returns the bytes held by heap objects, sampled.
func heapBytes() uint64 {
	s := &heapSampler
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now(); now.Sub(s.at) >= heapSampleEvery {
		metrics.Read(s.sample[:])
		s.bytes = s.sample[0].Value.Uint64()
		s.at = now
	}
	return s.bytes
}
