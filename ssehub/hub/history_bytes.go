package hub

import "sync/atomic"

// historyBytes bounds, in bytes, what all of a hub's channel logs hold
// (Config.MaxHistoryBytes). Events are queued in publish order as they are
// appended; when the total goes over the bound, the oldest leave first,
// from every log that holds them, whatever their channel.
//
// An event's held count is the number of logs holding it plus one for this
// queue, so an event only the queue holds (held == 1) is dead: its logs
// dropped it (by count, age or channel removal) but it still counts here
// until the queue lets go of it, either at the head or when the queue is
// compacted. dead sums their sizes, so compaction runs only when it pays.
//
// The hub's publishMu guards order, head and bound; used and dead are
// atomic so that stats and the channel locks' holders can touch them.
type historyBytes struct {
	bound   int64
	order   []*Event // in publish order; order[head:] are counted
	head    int
	used    atomic.Int64 // sizes of order[head:]
	dead    atomic.Int64 // sizes of the dead among them
	evicted atomic.Uint64
}

// queue counts a new event, before any log holds it. Caller holds publishMu.
func (hb *historyBytes) queue(e *Event) {
	e.held.Store(1)
	hb.order = append(hb.order, e)
	hb.used.Add(e.size())
}

// enforceHistoryBytes evicts the oldest events until the hub is within its
// bound, dropping dead entries first when they are worth it. Caller holds
// h.mu for reading (the channel map) and publishMu.
func (h *Hub) enforceHistoryBytes() {
	hb := &h.history
	if d := hb.dead.Load(); d > 0 && (hb.used.Load() > hb.bound || d > hb.used.Load()/2) {
		hb.compact()
	}
	for hb.used.Load() > hb.bound && hb.head < len(hb.order) {
		e := hb.order[hb.head]
		hb.order[hb.head] = nil
		hb.head++
		if e.held.Load() > 1 {
			h.evictEverywhere(e)
			hb.evicted.Add(1)
		}
		hb.unqueue(e)
	}
	if hb.head > 1024 && hb.head > len(hb.order)/2 {
		n := copy(hb.order, hb.order[hb.head:])
		clear(hb.order[n:])
		hb.order, hb.head = hb.order[:n], 0
	}
}

// unqueue lets go of the queue's hold on e.
func (hb *historyBytes) unqueue(e *Event) {
	hb.used.Add(-e.size())
	if e.held.Add(-1) == 0 {
		hb.dead.Add(-e.size()) // it was dead: no log held it
	}
}

// compact drops dead events from the queue. Caller holds publishMu.
func (hb *historyBytes) compact() {
	live := hb.order[:0]
	for _, e := range hb.order[hb.head:] {
		if e.held.Load() == 1 { // no log holds it, and none can take it again
			hb.unqueue(e)
			continue
		}
		live = append(live, e)
	}
	clear(hb.order[len(live):])
	hb.order, hb.head = live, 0
}

// evictEverywhere takes e out of every log that holds it. Being the oldest
// event the queue counts, it is the oldest in each of those logs. Caller
// holds h.mu for reading and publishMu.
func (h *Hub) evictEverywhere(e *Event) {
	for _, name := range e.Channels {
		ch := h.channels[name]
		if ch == nil {
			continue
		}
		ch.mu.Lock()
		if l := &ch.log; l.len() > 0 && l.at(l.start) == e {
			l.evictOldest()
		}
		ch.mu.Unlock()
	}
}
