package hub

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
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
)

// ErrSlowConsumer is returned by Next when the subscriber fell so far
// behind that events it had not read left the channel's log. The stream
// should end; the client resumes with Last-Event-ID and replays what
// history still holds, or is told about the gap.
var ErrSlowConsumer = errors.New("slow consumer: fell behind the channel buffer")

// Gap reasons, sent in the data of the GapEvent.
const (
	// GapExpired: some events after the client's Last-Event-ID are no
	// longer in history (pushed out by size or age, or lost in a restart).
	// Replay continues with the oldest event history still holds.
	GapExpired = "expired"
	// GapUnknownID: the Last-Event-ID was not issued by this hub (malformed,
	// or newer than anything published). The stream continues live.
	GapUnknownID = "unknown_id"
)

// Event types the hub sends on its own; documented in the README.
const (
	GapEvent    = "sse_hub.gap"
	ClosedEvent = "sse_hub.closed"
)

// Subscriber is one stream's view of its channels: a cursor per channel
// into the shared logs. It holds no events of its own.
//
// The stream's goroutine owns cursors and pending; publishers touch only
// wake; the hub ends a subscription through end().
type Subscriber struct {
	hub     *Hub
	cursors []cursor // sorted by channel name, the lock order
	pending []byte   // notices to send before any event
	buffer  uint64   // unread live events allowed per channel

	wake chan struct{}

	endOnce    sync.Once
	done       chan struct{}
	endReason  EndReason
	endChannel string
}

type cursor struct {
	ch  *channel
	pos uint64
	// liveFrom is the log's end when the subscription began: events from
	// there on count against the subscriber buffer, replayed ones do not,
	// so a long replay never makes a subscriber "slow".
	liveFrom uint64
}

// Subscribe opens a subscription to the named channels (on-demand ones are
// created if allowed). lastEventID is the client's Last-Event-ID, or "" for
// a live-only stream: every event after it that history holds is replayed,
// in ID order, before live events, with neither gap nor duplicate. If some
// are lost, or the ID is not one of this hub's, the stream starts with a
// GapEvent per affected channel.
func (h *Hub) Subscribe(names []string, lastEventID string) (*Subscriber, error) {
	if len(names) == 0 {
		return nil, Errorf(ErrInvalid, "no channel given")
	}
	for _, name := range names {
		if err := ValidateChannelName(name); err != nil {
			return nil, err
		}
	}
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)

	chans, err := h.channelsFor(names)
	if err != nil {
		return nil, err
	}
	defer h.mu.RUnlock()

	s := &Subscriber{
		hub:     h,
		cursors: make([]cursor, len(chans)),
		buffer:  uint64(h.cfg.SubscriberBuffer),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	resume, idErr := ParseID(lastEventID)
	known := lastEventID != "" && idErr == nil && !h.lastPublishedID().Less(resume)
	now := h.now()
	for i, ch := range chans {
		ch.mu.Lock()
		pos, gap := ch.log.end, false
		if known {
			pos, gap = ch.cursorAfter(resume, now)
			gap = gap || resume.Less(h.startID)
		}
		ch.subs[s] = struct{}{}
		s.cursors[i] = cursor{ch: ch, pos: pos, liveFrom: ch.log.end}
		ch.mu.Unlock()
		switch {
		case lastEventID != "" && !known:
			s.pending = appendNotice(s.pending, GapEvent, ch.name, GapUnknownID, lastEventID)
		case gap:
			s.pending = appendNotice(s.pending, GapEvent, ch.name, GapExpired, lastEventID)
		}
	}
	return s, nil
}

// appendNotice encodes one of the hub's own events. It carries no id, so
// the client's Last-Event-ID stays on the last real event it received.
func appendNotice(b []byte, event, channel, reason, lastEventID string) []byte {
	data, _ := json.Marshal(struct {
		Channel     string `json:"channel"`
		Reason      string `json:"reason,omitempty"`
		LastEventID string `json:"last_event_id,omitempty"`
	}{channel, reason, truncate(lastEventID)})
	return appendFrame(b, "", event, string(data), NoRetry)
}

// notify wakes the subscriber; one pending wake covers any number of
// events. Called by publishers.
func (s *Subscriber) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Wake fires when new events may be available for Next.
func (s *Subscriber) Wake() <-chan struct{} { return s.wake }

// Done is closed when the hub ends the subscription; see EndFrame.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// end is called by the hub, which has already removed s from its channels.
func (s *Subscriber) end(reason EndReason, channel string) {
	s.endOnce.Do(func() {
		s.endReason, s.endChannel = reason, channel
		close(s.done)
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
	for _, c := range s.cursors {
		c.ch.mu.Lock()
		delete(c.ch.subs, s)
		c.ch.mu.Unlock()
	}
	s.end(EndNone, "")
}

// Next appends available events to buf (notices first) and stops once buf
// holds at least limit bytes. more reports that further events are already
// available, so the caller should write and call Next again without waiting
// for Wake. Events on several channels come merged in ID order, and an event
// published to several of them comes once.
func (s *Subscriber) Next(buf []byte, limit int) (out []byte, more bool, err error) {
	if len(s.pending) > 0 {
		buf = append(buf, s.pending...)
		s.pending = nil
	}
	upTo := s.hub.published.Load()
	for _, c := range s.cursors {
		c.ch.mu.RLock()
	}
	defer func() {
		for _, c := range s.cursors {
			c.ch.mu.RUnlock()
		}
	}()
	for _, c := range s.cursors {
		if c.pos < c.ch.log.start || c.ch.log.end-max(c.pos, c.liveFrom) > s.buffer {
			return buf, false, ErrSlowConsumer
		}
	}
	for len(buf) < limit {
		e := s.nextEvent(upTo)
		if e == nil {
			return buf, false, nil
		}
		buf = append(buf, e.wire...)
	}
	return buf, s.peek(upTo) != nil, nil
}

// nextEvent returns the lowest-numbered unread event at or below upTo and
// moves every cursor past it. Caller holds all channel read locks.
func (s *Subscriber) nextEvent(upTo uint64) *Event {
	e := s.peek(upTo)
	if e == nil {
		return nil
	}
	for i := range s.cursors {
		c := &s.cursors[i]
		if c.pos < c.ch.log.end && c.ch.log.at(c.pos) == e {
			c.pos++
		}
	}
	return e
}

// peek returns the lowest-numbered unread event at or below upTo.
func (s *Subscriber) peek(upTo uint64) *Event {
	var next *Event
	for _, c := range s.cursors {
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
