package hub

import (
	"sort"
	"sync/atomic"
	"time"
)

// eventLog is a channel's ring of recent events, oldest first, addressed by
// absolute positions that only grow: the events held are [start, end). It
// serves both history replay and live delivery, since a subscriber is just a
// position in it. The owning channel's lock guards it.
//
// The ring is allocated as it fills (doubling up to capacity), so an idle
// channel with a large history setting costs almost nothing.
type eventLog struct {
	ring     []logEntry // ring[pos % len(ring)] holds position pos
	capacity int
	start    uint64
	end      uint64
	// bytes is the encoded size of every event ever appended; with each
	// entry's running total it gives a subscriber's backlog in bytes.
	bytes uint64
	// evictedUpTo is the ID of the newest event that left the log; a client
	// that last saw an older ID has missed something.
	evictedUpTo ID
	// dead is the hub's count of bytes of events no log holds any more
	// (see historyBytes); nil for a log outside a hub.
	dead *atomic.Int64
	// released: the channel was removed, its events no longer count as
	// held (they stay readable for its last subscribers).
	released bool
}

type logEntry struct {
	event *Event
	// bytesBefore is the log's byte total before this event was appended.
	bytesBefore uint64
}

func newEventLog(capacity int) eventLog {
	return eventLog{capacity: max(capacity, 1)}
}

func (l *eventLog) len() int { return int(l.end - l.start) }

// at returns the event at an absolute position in [start, end).
func (l *eventLog) at(pos uint64) *Event { return l.ring[pos%uint64(len(l.ring))].event }

// bytesFrom is the encoded size of the events from pos to the end.
func (l *eventLog) bytesFrom(pos uint64) uint64 {
	if pos >= l.end {
		return 0
	}
	return l.bytes - l.ring[pos%uint64(len(l.ring))].bytesBefore
}

// bytesAt is the log's byte total before position pos, in [start, end].
func (l *eventLog) bytesAt(pos uint64) uint64 {
	if pos >= l.end {
		return l.bytes
	}
	return l.ring[pos%uint64(len(l.ring))].bytesBefore
}

func (l *eventLog) append(e *Event) {
	if l.len() == l.capacity {
		l.evictOldest()
	}
	if l.len() == len(l.ring) {
		l.rebuild(min(max(2*len(l.ring), 8), l.capacity))
	}
	l.ring[l.end%uint64(len(l.ring))] = logEntry{event: e, bytesBefore: l.bytes}
	l.bytes += uint64(len(e.wire))
	l.end++
	e.held.Add(1)
}

func (l *eventLog) evictOldest() {
	i := l.start % uint64(len(l.ring))
	e := l.ring[i].event
	l.evictedUpTo = e.ID
	l.ring[i] = logEntry{}
	l.start++
	if !l.released {
		l.drop(e)
	}
}

// drop notes that this log no longer holds e; if only the hub's byte
// queue holds it now, it is dead there (see historyBytes).
func (l *eventLog) drop(e *Event) {
	if e.held.Add(-1) == 1 && l.dead != nil {
		l.dead.Add(e.size())
	}
}

// release stops the events counting as held, when the channel is removed.
func (l *eventLog) release() {
	if l.released {
		return
	}
	l.released = true
	for pos := l.start; pos < l.end; pos++ {
		l.drop(l.at(pos))
	}
}

// rebuild moves the held events into a ring of n slots (n >= len()).
func (l *eventLog) rebuild(n int) {
	ring := make([]logEntry, n)
	for pos := l.start; pos < l.end; pos++ {
		ring[pos%uint64(n)] = l.ring[pos%uint64(len(l.ring))]
	}
	l.ring = ring
}

// pruneOlderThan drops events published before cutoff and reports how many.
func (l *eventLog) pruneOlderThan(cutoff time.Time) int {
	n := 0
	for l.start < l.end && l.at(l.start).PublishedAt.Before(cutoff) {
		l.evictOldest()
		n++
	}
	if l.len() == 0 && len(l.ring) > 8 {
		l.ring = nil // give an emptied ring's memory back
	}
	return n
}

// firstAfter returns the position of the first held event whose ID is after
// id, or end when there is none. IDs in a log are increasing.
func (l *eventLog) firstAfter(id ID) uint64 {
	i := sort.Search(l.len(), func(i int) bool { return id.Less(l.at(l.start + uint64(i)).ID) })
	return l.start + uint64(i)
}

// firstPublishedAtOrAfter returns the position of the first held event
// published at or after t.
func (l *eventLog) firstPublishedAtOrAfter(t time.Time) uint64 {
	i := sort.Search(l.len(), func(i int) bool { return !l.at(l.start + uint64(i)).PublishedAt.Before(t) })
	return l.start + uint64(i)
}

// resize changes the capacity, keeping the newest events that fit.
func (l *eventLog) resize(capacity int) {
	l.capacity = max(capacity, 1)
	for l.len() > l.capacity {
		l.evictOldest()
	}
	if len(l.ring) > l.capacity {
		l.rebuild(l.capacity)
	}
}
