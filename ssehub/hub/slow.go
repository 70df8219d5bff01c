package hub

import "time"

// The slow-consumer rule, one for both paths of the HTTP layer:
//
// A subscriber's backlog on a channel is the live events it has not taken
// yet (events replayed at connect do not count). It is over the bound when
// it holds more than SubscriberBuffer events or SubscriberBufferBytes
// bytes. A subscriber is slow on a channel when
//
//   - events it had not taken left the channel's log (by MaxHistoryBytes,
//     HistoryMaxAge, or the log's room: history plus buffer plus a whole
//     max_batch), which the stream finds at its next read and the janitor
//     within a second; or
//   - its backlog has stayed over the bound for SlowConsumerGrace without
//     shrinking: it is not catching up (it stopped, or reads slower than
//     events come). The janitor judges this once a second.
//
// So a subscriber that keeps reading is never cut for a burst, however
// large and however long it takes to read through it: each second that
// its backlog is smaller than when the count began starts the count anew.

// backlogWatch is the janitor's view of one cursor's backlog: when it was
// last found over the bound without having shrunk, and how large it was
// then. Only the janitor (Sweep, serialized by sweepMu) touches it.
type backlogWatch struct {
	since  time.Time // zero while the backlog is within the bound
	events uint64    // the backlog when since was set
}

// judge updates w with the backlog now and reports whether the grace has
// passed with the backlog over the bound and never smaller than when the
// count began.
func (w *backlogWatch) judge(events, bytes uint64, now time.Time, grace time.Duration, buffer, maxBytes uint64) bool {
	if events <= buffer && (maxBytes == 0 || bytes <= maxBytes) {
		*w = backlogWatch{}
		return false
	}
	if w.since.IsZero() || events < w.events {
		*w = backlogWatch{since: now, events: events}
		return false
	}
	return now.Sub(w.since) >= grace
}

// backlog counts the events and bytes from position from to the log's
// end. Caller holds ch.mu.
func (ch *channel) backlog(from uint64) (events, bytes uint64) {
	l := &ch.log
	from = max(from, l.start)
	if from >= l.end {
		return 0, 0
	}
	return l.end - from, l.bytesAt(l.end) - l.bytesAt(from)
}

// sweepChunk is how many subscribers the janitor checks per lock hold.
const sweepChunk = 1024

// judgeSubscribers applies the rule to ch's subscribers, even those whose
// stream is blocked in a write and so cannot notice by itself. On a
// Disconnect channel a slow subscriber is ended (and its blocked write
// interrupted); on a Latest one it is asked to skip its backlog at its
// next read (the janitor cannot move a cursor the stream owns), and a
// write that stays blocked there ends at the write timeout.
func (h *Hub) judgeSubscribers(ch *channel, now time.Time, grace time.Duration) {
	var slow []*Subscriber
	latest := false
	for i, more := 0, true; more; i += sweepChunk {
		var isLatest bool
		if slow, isLatest, more = ch.judgeChunk(slow, i, now, grace); more {
			latest = isLatest
		}
	}
	// Outside the lock: ending or waking a subscriber runs its Notify and
	// interrupt.
	for _, s := range slow {
		if latest {
			s.skipBacklog(ch)
		} else {
			s.cut(ch)
		}
	}
}

// judgeChunk judges the subscribers from index i on, at most sweepChunk,
// under the channel's read lock, adding the slow ones to slow. more is
// false once there were none left.
func (ch *channel) judgeChunk(slow []*Subscriber, i int, now time.Time, grace time.Duration) (_ []*Subscriber, latest, more bool) {
	ch.mu.RLock()
	defer ch.mu.RUnlock() // deferred: a recovered panic must not leave it held
	if i >= len(ch.subs) {
		return slow, false, false
	}
	for _, s := range ch.subs[i:min(i+sweepChunk, len(ch.subs))] {
		c := s.cursorOn(ch)
		if c == nil {
			continue
		}
		from := c.mark.Load()
		events, bytes := ch.backlog(from)
		if from < ch.log.start || c.watch.judge(events, bytes, now, grace, s.buffer, s.bytes) {
			c.watch = backlogWatch{}
			slow = append(slow, s)
		}
	}
	return slow, ch.settings.SlowConsumer == Latest, true
}
