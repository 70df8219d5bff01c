package main

import (
	"math"
	"sync/atomic"
	"time"
)

// histogram counts durations in log buckets growing by 5%, from 1µs to
// about 100s: percentiles come out within 5% without keeping samples.
type histogram struct {
	buckets [histBuckets]atomic.Int64
	max     atomic.Int64
}

const (
	histBase    = 1.05
	histBuckets = 380
)

func (h *histogram) observe(d time.Duration) {
	us := float64(d) / float64(time.Microsecond)
	i := 0
	if us > 1 {
		i = min(int(math.Log(us)/math.Log(histBase))+1, histBuckets-1)
	}
	h.buckets[i].Add(1)
	for {
		old := h.max.Load()
		if int64(d) <= old || h.max.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range h.buckets {
		if seen += h.buckets[i].Load(); seen >= want {
			return time.Duration(math.Pow(histBase, float64(i)) * float64(time.Microsecond))
		}
	}
	return time.Duration(h.max.Load())
}
