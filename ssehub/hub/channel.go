package hub

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// channel is one named stream inside a hub.
//
// Locking: mu guards log, subs, settings and closed. Publishers take mu for
// writing one channel at a time; a subscriber reading several channels takes
// their read locks in name order, so readers never deadlock with writers.
type channel struct {
	name     string
	declared bool

	mu       sync.RWMutex
	settings ChannelSettings
	log      eventLog
	// subs is a slice, not a map, because publishing walks it for every
	// event; each subscriber's cursor remembers its slot for removal.
	subs []*Subscriber
	// goroutineSubs counts the subscribers in subs woken through their
	// channel (a goroutine each), not a callback; see crowded.
	goroutineSubs int
	closed        bool
	// published counts events ever appended, for stats.
	published uint64

	// lastUsed is when the channel was last published to or subscribed
	// (unix nanoseconds), so the least recently used idle on-demand
	// channel is the one reclaimed at max_on_demand_channels.
	lastUsed atomic.Int64

	// Totals for the admin API, kept by subscribers without the lock.
	delivered       atomic.Uint64
	skipped         atomic.Uint64
	slowDisconnects atomic.Uint64
}

// newChannel makes a channel whose log holds its history plus room more
// events; dead is the hub's dead-bytes count (see historyBytes).
func newChannel(name string, declared bool, s ChannelSettings, room int, evictedUpTo ID, dead *atomic.Int64) *channel {
	ch := &channel{
		name:     name,
		declared: declared,
		settings: s,
		log:      newEventLog(logCapacity(s, room)),
	}
	ch.log.dead = dead
	// A channel (re)created now may have had events under the same name
	// before; treat everything up to now as gone so a resuming client is
	// told rather than left guessing.
	ch.log.evictedUpTo = evictedUpTo
	return ch
}

// logCapacity sizes a channel's log: its history, plus room (see
// Config.liveRoom) so that a subscriber replaying from the oldest history
// event, or one at the edge of its buffer, still finds a whole batch
// published after it. The sum saturates: settings near the int limit must
// not wrap to a tiny log (the ring is allocated as it fills, so a huge
// capacity costs nothing up front).
func logCapacity(s ChannelSettings, room int) int {
	if s.HistorySize > math.MaxInt-room {
		return math.MaxInt
	}
	return s.HistorySize + room
}

// addSubscriber adds s, whose cursor for this channel is c. Caller holds mu.
func (ch *channel) addSubscriber(s *Subscriber, c *cursor) {
	c.slot = len(ch.subs)
	ch.subs = append(ch.subs, s)
	if s.notifyFn == nil {
		ch.goroutineSubs++
	}
}

// removeSubscriber takes s out by moving the last subscriber into its slot.
// s may already be gone (the channel was closed). Caller holds mu.
func (ch *channel) removeSubscriber(s *Subscriber, slot int) {
	last := len(ch.subs) - 1
	if slot > last || ch.subs[slot] != s {
		return
	}
	if s.notifyFn == nil {
		ch.goroutineSubs--
	}
	moved := ch.subs[last]
	ch.subs[slot] = moved
	ch.subs[last] = nil
	ch.subs = ch.subs[:last]
	for i := range moved.cursors {
		if moved.cursors[i].ch == ch {
			moved.cursors[i].slot = slot
		}
	}
}

// replayStart returns the position of the oldest event that is still
// history (within HistorySize and HistoryMaxAge). Caller holds mu.
func (ch *channel) replayStart(now time.Time) uint64 {
	l := &ch.log
	start := l.start
	if n := uint64(ch.settings.HistorySize); l.end-l.start > n {
		start = l.end - n
	}
	if age := ch.settings.HistoryMaxAge; age > 0 {
		start = max(start, l.firstPublishedAtOrAfter(now.Add(-age)))
	}
	return start
}

// cursorAfter places a new subscriber that last saw id: at the first
// retained event after it, reporting whether events after id were lost.
// Caller holds mu.
func (ch *channel) cursorAfter(id ID, now time.Time) (pos uint64, gap bool) {
	start := ch.replayStart(now)
	pos = ch.log.firstAfter(id)
	switch {
	case pos < start:
		return start, true
	case pos == ch.log.start && id.Less(ch.log.evictedUpTo):
		return pos, true
	}
	return pos, false
}

// trim drops what nobody needs any more: events past the history age, and,
// while nobody is subscribed, live-buffer events beyond the history size.
// Caller holds mu for writing.
func (ch *channel) trim(now time.Time) {
	if age := ch.settings.HistoryMaxAge; age > 0 {
		ch.log.pruneOlderThan(now.Add(-age))
	}
	if len(ch.subs) == 0 {
		for ch.log.len() > ch.settings.HistorySize {
			ch.log.evictOldest()
		}
	}
}

// wake signals every subscriber of the channel.
func (ch *channel) wake() {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	for _, s := range ch.subs {
		s.notify()
	}
}

// crowded reports whether waking the channel's subscribers is left to the
// hub's fanout goroutine (fanout.go): when more than wakeSlice of them
// are goroutines to make runnable. Callbacks (the lean engine's) only
// queue work for a few workers, and stay inline.
func (ch *channel) crowded() bool {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return ch.goroutineSubs > wakeSlice
}

// appendSubscribers appends the channel's subscribers to subs.
func (ch *channel) appendSubscribers(subs []*Subscriber) []*Subscriber {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return append(subs, ch.subs...)
}

// takeSubscribers empties the subscriber set. Caller holds ch.mu.
func (ch *channel) takeSubscribers() []*Subscriber {
	subs := ch.subs
	ch.subs = nil
	ch.goroutineSubs = 0
	return subs
}

func endAll(subs []*Subscriber, reason EndReason, channel string) {
	for _, s := range subs {
		s.end(reason, channel)
	}
}
