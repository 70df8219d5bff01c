package hub

import "time"

// The slow-consumer rule, shared by the stream's own reads (Next) and the
// janitor (cutSlowConsumers), so both paths of the HTTP layer get the
// same one:
//
// A subscriber's backlog on a channel is the live events it has not taken
// yet (events replayed at connect do not count). It is over the bound when
// it holds more than SubscriberBuffer events or SubscriberBufferBytes
// bytes. A subscriber is slow when its backlog has been over the bound for
// longer than SlowConsumerGrace, or when events it had not taken left the
// log (by MaxHistoryBytes or HistoryMaxAge). A burst alone never makes a
// subscriber slow: however large a batch, a subscriber that takes it
// within the grace is never cut, and the log (history plus buffer plus a
// whole batch) still holds what it has not taken.
//
// How long the backlog has been over the bound needs no clock of its own:
// counting from the subscriber's position, it went over when the event
// that took it over was published, and it has stayed over since (reading
// only moves the position, which is where it is counted from). So with q
// the first position published at or after now-grace, the subscriber is
// slow when the events before q, counted from its position, are already
// over the bound.

// overdueFrom is q above: the first position in the log published at or
// after cutoff. Caller holds ch.mu.
func (ch *channel) overdueFrom(cutoff time.Time) uint64 {
	return ch.log.firstPublishedAtOrAfter(cutoff)
}

// overdue reports whether a subscriber whose backlog starts at from is
// slow, given q from overdueFrom and its bounds. Caller holds ch.mu.
func (ch *channel) overdue(from, q, buffer, maxBytes uint64) bool {
	l := &ch.log
	switch {
	case from < l.start:
		return true // events it had not taken left the log
	case q <= from:
		return false
	case q-from > buffer:
		return true
	}
	return maxBytes > 0 && l.bytesAt(q)-l.bytesAt(from) > maxBytes
}

// sweepChunk is how many subscribers the janitor checks per lock hold.
const sweepChunk = 1024

// cutSlowConsumers ends the subscribers of ch that are slow by the rule
// above, even those whose stream is blocked in a write and so cannot
// notice by itself. Latest channels are left to the subscriber's next
// read, which skips its backlog (the janitor cannot move a cursor the
// stream owns); a blocked write there ends at the write timeout.
func (h *Hub) cutSlowConsumers(ch *channel, cutoff time.Time) {
	var slow []*Subscriber
	for i := 0; ; i += sweepChunk {
		ch.mu.RLock()
		if ch.settings.SlowConsumer == Latest || i >= len(ch.subs) {
			ch.mu.RUnlock()
			break
		}
		q := ch.overdueFrom(cutoff)
		for _, s := range ch.subs[i:min(i+sweepChunk, len(ch.subs))] {
			if c := s.cursorOn(ch); c != nil && ch.overdue(c.mark.Load(), q, s.buffer, s.bytes) {
				slow = append(slow, s)
			}
		}
		ch.mu.RUnlock()
	}
	// Outside the lock: ending a subscriber runs its Notify and interrupt.
	for _, s := range slow {
		s.cut(ch)
	}
}
