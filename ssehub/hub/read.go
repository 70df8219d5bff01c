package hub

import (
	"sync"
	"time"
)

// snapshotCap is how many events Next takes from the logs per lock hold.
const snapshotCap = 128

// snapshots lends Next its list of event pointers, so a read copies bytes
// after letting go of the channel locks without allocating.
var snapshots = sync.Pool{New: func() any { s := make([]*Event, 0, snapshotCap); return &s }}

// Next appends available events to buf (notices first) and stops once buf
// holds at least limit bytes. more reports that further events are already
// available, so the caller should write and call Next again without waiting
// for Wake. Events on several channels come merged in ID order, and an event
// published to several of them comes once.
//
// The channel read locks are held only to check the backlogs and to take
// up to snapshotCap event pointers at a time; the bytes are copied after
// the locks are released, so a reader never holds up a publish for longer
// than that (events are immutable, and a pointer keeps one alive).
func (s *Subscriber) Next(buf []byte, limit int) (out []byte, more bool, err error) {
	if s.slow.Load() {
		return buf, false, ErrSlowConsumer
	}
	if len(s.pending) > 0 {
		buf = append(buf, s.pending...)
		s.pending = nil
	}
	if len(s.remote) > 0 {
		return s.nextRemote(buf, limit)
	}
	upTo := s.hub.readable.Load()
	now := s.hub.now()
	var taken readTally
	var bytes uint64
	defer func() { s.flushStats(taken.delivered, taken.replayed, bytes) }()
	sp := snapshots.Get().(*[]*Event)
	defer func() {
		clear((*sp)[:cap(*sp)])
		snapshots.Put(sp)
	}()
	for first := true; ; first = false {
		s.lockAll()
		if first {
			if !s.skipThrough.IsZero() {
				s.skipReplayed()
			}
			if buf, err = s.checkBacklogs(buf); err != nil {
				s.unlockAll()
				return buf, false, err
			}
		}
		var batch []*Event
		batch, more = s.takeBatch((*sp)[:0], len(buf), limit, upTo, now, &taken)
		s.publishMarks()
		s.unlockAll()
		for _, e := range batch {
			buf = append(buf, e.wire...)
			bytes += uint64(len(e.wire))
		}
		if len(buf) >= limit || !more {
			return buf, more, nil
		}
	}
}

// readTally counts one Next call's deliveries, for flushStats.
type readTally struct{ delivered, replayed uint64 }

// takeBatch moves the cursors past the next events at or below upTo,
// adding them to batch, until it holds snapshotCap events or size (the
// bytes buf holds, plus the batch's) reaches limit. more reports that
// further events are available already. Caller holds the channel read
// locks.
func (s *Subscriber) takeBatch(batch []*Event, size, limit int, upTo uint64, now time.Time, t *readTally) (_ []*Event, more bool) {
	var replayed uint64 // counted here, not through t, to stay in a register
	n := len(batch)
	for size < limit && len(batch) < snapshotCap {
		e, wasReplay := s.nextEvent(upTo)
		if e == nil {
			break
		}
		batch = append(batch, e)
		size += len(e.wire)
		if wasReplay {
			replayed++
		} else if s.stats != nil {
			s.stats.observeDelay(now.Sub(e.PublishedAt))
		}
	}
	t.delivered += uint64(len(batch) - n)
	t.replayed += replayed
	more = len(batch) == snapshotCap || size >= limit
	if more && size >= limit {
		more = s.peek(upTo) != nil
	}
	return batch, more
}

// lockAll takes the read lock of every subscribed channel, in name order.
func (s *Subscriber) lockAll() {
	// Index, do not copy: a cursor's slot may change until its lock is held.
	for i := range s.cursors {
		s.cursors[i].ch.mu.RLock()
	}
}

func (s *Subscriber) unlockAll() {
	for i := range s.cursors {
		s.cursors[i].ch.mu.RUnlock()
	}
}

// publishMarks lets the janitor see where each backlog now starts.
// Caller holds the channel read locks.
func (s *Subscriber) publishMarks() {
	for i := range s.cursors {
		c := &s.cursors[i]
		c.mark.Store(max(c.pos, c.liveFrom))
	}
}

// checkBacklogs applies what the stream's read decides of the slow-consumer
// rule (slow.go): on a Disconnect channel a subscriber that lost unread
// events gets ErrSlowConsumer; on a Latest one, if it lost unread events
// or the janitor found it slow, its backlog is dropped, the newest event
// kept, and a GapSkipped notice appended to buf. Caller holds the channel
// read locks.
func (s *Subscriber) checkBacklogs(buf []byte) ([]byte, error) {
	for i := range s.cursors {
		c := &s.cursors[i]
		l := &c.ch.log
		if c.ch.closed {
			// The hub ends the subscription; what is left goes out first.
			c.pos = max(c.pos, l.start)
			continue
		}
		lost := c.pos < l.start
		if c.ch.settings.SlowConsumer != Latest {
			if lost {
				s.markSlow(c.ch)
				return buf, ErrSlowConsumer
			}
			continue
		}
		if !c.skip.Swap(false) && !lost {
			continue
		}
		// Keep only the newest event, if the log still holds one (age may
		// have emptied it), and say what was skipped.
		next := l.end
		if l.len() > 0 {
			next = l.end - 1
		}
		next = max(next, c.pos)
		skipped := next - c.pos
		if skipped == 0 && !lost {
			continue
		}
		s.Skipped += skipped
		c.ch.skipped.Add(skipped)
		s.hub.stats.skipped.Add(skipped)
		s.hub.stats.countGap(GapSkipped)
		c.pos, c.liveFrom = next, next
		buf = appendNotice(buf, GapEvent, c.ch.name, GapSkipped, "")
	}
	return buf, nil
}

// flushStats adds one Next call's deliveries to the hub and channel
// totals: a few atomic adds per call, not per event.
func (s *Subscriber) flushStats(delivered, replayed, bytes uint64) {
	if delivered == 0 || s.stats == nil {
		return
	}
	s.stats.bytes.Add(bytes)
	if replayed > 0 {
		s.stats.replayed.Add(replayed)
	}
	for i := range s.cursors {
		if c := &s.cursors[i]; c.delivered > 0 {
			c.ch.delivered.Add(c.delivered)
			c.delivered = 0
		}
	}
}

// nextEvent returns the lowest-numbered unread event at or below upTo,
// and whether it is a replay (published before the subscription), and
// moves every cursor past it. Caller holds all channel read locks.
func (s *Subscriber) nextEvent(upTo uint64) (e *Event, replay bool) {
	e = s.peek(upTo)
	if e == nil {
		return nil, false
	}
	for i := range s.cursors {
		c := &s.cursors[i]
		if c.pos < c.ch.log.end && c.ch.log.at(c.pos) == e {
			replay = replay || c.pos < c.liveFrom
			c.pos++
			c.delivered++
		}
	}
	return e, replay
}

// peek returns the lowest-numbered unread event at or below upTo.
func (s *Subscriber) peek(upTo uint64) *Event {
	var next *Event
	for i := range s.cursors {
		c := &s.cursors[i]
		if c.pos >= c.ch.log.end {
			continue
		}
		e := c.ch.log.at(c.pos)
		if e.n <= upTo && (next == nil || e.n < next.n) {
			next = e
		}
	}
	return next
}

// nextRemote sends events replayed from the backend, before any cursor's.
func (s *Subscriber) nextRemote(buf []byte, limit int) ([]byte, bool, error) {
	var n, bytes uint64
	for len(s.remote) > 0 && len(buf) < limit {
		e := s.remote[0]
		s.remote[0] = nil
		s.remote = s.remote[1:]
		buf = append(buf, e.wire...)
		n++
		bytes += uint64(len(e.wire))
	}
	if s.stats != nil && n > 0 {
		s.stats.bytes.Add(bytes)
		s.stats.replayed.Add(n)
	}
	return buf, true, nil
}

// skipReplayed moves cursors past events the backend range already
// delivered. Caller holds the channels' read locks.
func (s *Subscriber) skipReplayed() {
	for i := range s.cursors {
		c := &s.cursors[i]
		l := &c.ch.log
		for c.pos >= l.start && c.pos < l.end && !s.skipThrough.Less(l.at(c.pos).ID) {
			c.pos++
		}
	}
}
