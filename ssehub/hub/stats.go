package hub

import (
	"sync/atomic"
	"time"
)

// DelayBuckets are the upper bounds, in seconds, of the delivery-delay
// histogram: from publish accepted to the event handed to a stream's writer.
var DelayBuckets = [...]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// statShards spreads the per-delivery counters over several cache lines,
// so streams on different cores do not all contend for one.
const statShards = 8

// deliveryShard holds per-delivery counters; each subscriber writes to one.
// Deliveries are counted by the histogram (live) and replayed (replay),
// which sum to all deliveries, so no separate counter is kept.
type deliveryShard struct {
	replayed  atomic.Uint64
	bytes     atomic.Uint64
	delay     [len(DelayBuckets) + 1]atomic.Uint64 // the last slot is +Inf
	delayNano atomic.Uint64
	_         [64]byte // keep shards on separate cache lines
}

// hubStats are a hub's running totals. They live as long as the hub, so
// they survive config reloads. Only atomics: the hot path takes no lock.
type hubStats struct {
	shards          [statShards]deliveryShard
	nextShard       atomic.Uint32
	published       atomic.Uint64
	accepted        atomic.Uint64
	slowDisconnects atomic.Uint64
	skipped         atomic.Uint64
	gaps            [len(gapReasons)]atomic.Uint64
	callbackSubs    atomic.Int64 // open subscriptions woken through a Notify callback
}

var gapReasons = [...]string{GapExpired, GapUnknownID, GapSkipped}

func (st *hubStats) countGap(reason string) {
	for i, r := range gapReasons {
		if r == reason {
			st.gaps[i].Add(1)
		}
	}
}

// observeDelay counts one delivery delay into a shard's histogram.
func (sh *deliveryShard) observeDelay(d time.Duration) {
	secs := d.Seconds()
	i := 0
	for i < len(DelayBuckets) && secs > DelayBuckets[i] {
		i++
	}
	sh.delay[i].Add(1)
	sh.delayNano.Add(uint64(max(d, 0)))
}

// Stats is a snapshot of a hub's running totals, for metrics and the admin
// API. Counters only grow while the hub lives.
type Stats struct {
	Subscribers int `json:"subscribers"`
	// CallbackSubscribers counts the open subscriptions made with a Notify
	// callback (SubscribeRequest.Notify) instead of the Wake channel.
	// Subscribers includes them. The HTTP layer serves its lean streams
	// this way and calls them lean, hence the JSON name.
	CallbackSubscribers int               `json:"lean_subscribers"`
	Accepted            uint64            `json:"accepted"`
	Published           uint64            `json:"published"`
	Delivered           uint64            `json:"delivered"`
	Replayed            uint64            `json:"replayed"`
	BytesDelivered      uint64            `json:"bytes_delivered"`
	SlowDisconnects     uint64            `json:"slow_disconnects"`
	Skipped             uint64            `json:"skipped"`
	Gaps                map[string]uint64 `json:"gaps"`
	// HistoryBytes is what the channel logs hold, counted as for
	// MaxHistoryBytes; HistoryEvicted counts events that bound pushed out.
	HistoryBytes   int64  `json:"history_bytes"`
	HistoryEvicted uint64 `json:"history_evicted"`
	// Delay holds the histogram: DelayCounts[i] counts deliveries with a
	// delay up to DelayBuckets[i] (not cumulative); the last slot is the
	// rest.
	DelayCounts [len(DelayBuckets) + 1]uint64 `json:"-"`
	DelaySum    time.Duration                 `json:"-"`
}

// Stats returns the hub's totals.
func (h *Hub) Stats() Stats {
	st := &h.stats
	s := Stats{
		Subscribers:         h.Subscribers(),
		CallbackSubscribers: int(st.callbackSubs.Load()),
		Accepted:            st.accepted.Load(),
		Published:           st.published.Load(),
		SlowDisconnects:     st.slowDisconnects.Load(),
		Skipped:             st.skipped.Load(),
		Gaps:                make(map[string]uint64, len(gapReasons)),
		HistoryBytes:        h.history.used.Load(),
		HistoryEvicted:      h.history.evicted.Load(),
	}
	for i, r := range gapReasons {
		s.Gaps[r] = st.gaps[i].Load()
	}
	for i := range st.shards {
		sh := &st.shards[i]
		s.Replayed += sh.replayed.Load()
		s.BytesDelivered += sh.bytes.Load()
		for b := range sh.delay {
			s.DelayCounts[b] += sh.delay[b].Load()
		}
		s.DelaySum += time.Duration(sh.delayNano.Load())
	}
	s.Delivered = s.Replayed
	for _, n := range s.DelayCounts {
		s.Delivered += n
	}
	return s
}
