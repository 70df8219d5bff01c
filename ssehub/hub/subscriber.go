package hub

import (
	"errors"
	"sync"
	"sync/atomic"
)

// EndReason says why the hub ended a subscription.
type EndReason int

const (
	// EndNone: the subscription is live.
	EndNone EndReason = iota
	// EndChannelClosed: a channel was closed through the admin API.
	EndChannelClosed
	// EndHubClosed: the hub was shut down (its config was removed).
	EndHubClosed
	// EndSlowConsumer: the hub's janitor found the subscriber slow (see
	// slow.go); Next returns ErrSlowConsumer from then on.
	EndSlowConsumer
)

// ErrSlowConsumer is returned by Next when the subscriber is slow on a
// Disconnect channel by the rule in slow.go: its backlog stayed over the
// bound (SubscriberBuffer events or SubscriberBufferBytes bytes) for
// SlowConsumerGrace without shrinking, or events it had not read left the
// channel's log. (On a Latest channel the backlog is skipped instead, see
// GapSkipped.) The stream should end; the client resumes with
// Last-Event-ID and replays what history still holds, or is told about
// the gap.
var ErrSlowConsumer = errors.New("slow consumer: could not keep up with the channel")

// Subscriber is one stream's view of its channels: a cursor per channel
// into the shared logs. It holds no events of its own.
//
// The stream's goroutine owns cursors and pending; publishers touch only
// wake; the hub ends a subscription through end().
type Subscriber struct {
	hub     *Hub
	client  string
	cursors []cursor // sorted by channel name, the lock order
	pending []byte   // notices to send before any event
	// remote holds events replayed from the backend, sent after pending
	// and before any cursor's; skipThrough is the last of the range read,
	// so cursors skip events up to it (see remoteReplay).
	remote      []*Event
	skipThrough ID
	buffer      uint64 // unread live events allowed per channel
	bytes       uint64 // unread live bytes allowed per channel
	// Skipped counts events a Latest channel dropped for this subscriber.
	Skipped uint64
	stats   *deliveryShard // nil when the hub keeps no delivery stats

	wake     chan struct{} // nil when notifyFn is set
	notifyFn func()

	// slow is set once the subscriber was found slow (by its own read or
	// by the janitor); interrupt, if set, is called when the janitor cuts
	// it, so a stream blocked in a write can fail that write at once.
	slow      atomic.Bool
	interrupt atomic.Pointer[func()]

	closeOnce  sync.Once
	endOnce    sync.Once
	done       chan struct{}
	endReason  EndReason
	endChannel string
}

type cursor struct {
	ch        *channel
	pos       uint64
	delivered uint64 // since the last flush to ch.delivered
	slot      int    // index in ch.subs; guarded by ch.mu
	// liveFrom is the log's end when the subscription began: events from
	// there on count against the subscriber buffer, replayed ones do not,
	// so a long replay never makes a subscriber "slow".
	liveFrom uint64
	// mark is max(pos, liveFrom), where the backlog is counted from, as of
	// the stream's last read: the janitor reads it without the stream.
	mark atomic.Uint64
	// skip is set by the janitor when the subscriber is slow on a Latest
	// channel: the stream drops the backlog at its next read.
	skip atomic.Bool
	// watch is the janitor's own record of the backlog (slow.go).
	watch backlogWatch
}

// notify wakes the subscriber; one pending wake covers any number of
// events. Called by publishers.
func (s *Subscriber) notify() {
	if s.notifyFn != nil {
		s.notifyFn()
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Poke wakes the stream as a publish would, so that it looks at whatever
// else it waits for (its client leaving, a timer) while waiting on Wake
// alone. Safe from any goroutine; a spurious wake is harmless.
func (s *Subscriber) Poke() { s.notify() }

// SetInterrupt registers f to be called, from another goroutine, when the
// hub cuts the subscriber as slow while its stream may be blocked in a
// write; f should make that write fail at once (a past write deadline).
// It must be quick and must not block.
func (s *Subscriber) SetInterrupt(f func()) { s.interrupt.Store(&f) }

// SlowConsumer reports whether the subscriber was found slow: its stream
// should end as a slow consumer (Next returns ErrSlowConsumer).
func (s *Subscriber) SlowConsumer() bool { return s.slow.Load() }

// cut ends a subscriber the janitor found slow on ch.
func (s *Subscriber) cut(ch *channel) {
	select {
	case <-s.done:
		return // closed already
	default:
	}
	if !s.markSlow(ch) {
		return
	}
	s.end(EndSlowConsumer, ch.name)
	if f := s.interrupt.Load(); f != nil {
		(*f)()
	}
}

// skipBacklog asks the stream to drop its backlog on the Latest channel
// ch at its next read, and wakes it.
func (s *Subscriber) skipBacklog(ch *channel) {
	if c := s.cursorOn(ch); c != nil {
		c.skip.Store(true)
		s.notify()
	}
}

// markSlow records that s is slow on ch, once, and counts it.
func (s *Subscriber) markSlow(ch *channel) bool {
	if !s.slow.CompareAndSwap(false, true) {
		return false
	}
	s.hub.stats.slowDisconnects.Add(1)
	ch.slowDisconnects.Add(1)
	return true
}

// cursorOn returns s's cursor on ch, or nil.
func (s *Subscriber) cursorOn(ch *channel) *cursor {
	for i := range s.cursors {
		if s.cursors[i].ch == ch {
			return &s.cursors[i]
		}
	}
	return nil
}

// Wake fires when new events may be available for Next. It never fires
// for a subscription opened with a Notify function.
func (s *Subscriber) Wake() <-chan struct{} { return s.wake }

// Done is closed when the hub ends the subscription; see EndFrame.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// end is called by the hub, which has already removed s from its channels.
func (s *Subscriber) end(reason EndReason, channel string) {
	s.endOnce.Do(func() {
		s.endReason, s.endChannel = reason, channel
		close(s.done)
		s.notify() // a Notify-driven stream learns of the end this way
	})
}

// EndFrame is the last thing to write after Done fired: the ClosedEvent
// naming the closed channel, so a client can stop instead of reconnecting.
// It is empty when the hub itself shut down (the client should reconnect).
func (s *Subscriber) EndFrame() []byte {
	<-s.done
	if s.endReason != EndChannelClosed {
		return nil
	}
	return appendNotice(nil, ClosedEvent, s.endChannel, "", "")
}

// Close removes the subscription from its channels. The stream calls it
// when it ends for any reason; it is safe to call more than once.
func (s *Subscriber) Close() {
	s.closeOnce.Do(func() {
		for i := range s.cursors {
			c := &s.cursors[i]
			c.ch.mu.Lock()
			c.ch.removeSubscriber(s, c.slot) // slot is read under the lock
			c.ch.mu.Unlock()
		}
		s.hub.release(s.client)
		if s.notifyFn != nil {
			s.hub.stats.callbackSubs.Add(-1)
		}
		s.end(EndNone, "")
	})
}
