package hub

import (
	"encoding/json"
	"errors"
	"slices"
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

// ErrSlowConsumer is returned by Next when the subscriber is slow by the
// rule in slow.go: its backlog stayed over its buffer for longer than the
// grace, or events it had not read left the channel's log. The stream
// should end; the client resumes with Last-Event-ID and replays what
// history still holds, or is told about the gap.
var ErrSlowConsumer = errors.New("slow consumer: could not keep up with the channel")

// Gap reasons, sent in the data of the GapEvent.
const (
	// GapExpired: some events after the client's Last-Event-ID are no
	// longer in history (pushed out by size or age, or lost in a restart).
	// Replay continues with the oldest event history still holds.
	GapExpired = "expired"
	// GapUnknownID: the Last-Event-ID was not issued by this hub (malformed,
	// or newer than anything published). The stream continues live.
	GapUnknownID = "unknown_id"
	// GapSkipped: the subscriber fell behind on a channel with the Latest
	// policy; the backlog was dropped and the stream goes on with the
	// newest event.
	GapSkipped = "skipped"
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

// SubscribeRequest describes a new stream.
type SubscribeRequest struct {
	// Channels to subscribe to; on-demand ones are created if allowed.
	Channels []string
	// LastEventID is the client's Last-Event-ID, or "" for live only.
	LastEventID string
	// Client identifies the client for MaxSubscribersPerClient (the HTTP
	// layer passes the client IP); "" is not counted.
	Client string
	// Notify, if set, is called instead of signalling Wake when events
	// may be available and when the hub ends the subscription. It runs on
	// the publisher's goroutine, so it must be quick and never block. It
	// lets a stream without a goroutine of its own be woken.
	Notify func()
}

// MaxLastEventIDLength bounds a Last-Event-ID: the hub's own IDs are at
// most 41 bytes, so anything much longer is not from a real client.
const MaxLastEventIDLength = 256

// Subscribe opens a subscription. Every event after req.LastEventID that
// history holds is replayed, in ID order, before live events, with neither
// gap nor duplicate. If some are lost, or the ID is not one of this hub's,
// the stream starts with a GapEvent per affected channel. Limits are
// checked first; a refused subscription leaves nothing behind.
func (h *Hub) Subscribe(req SubscribeRequest) (*Subscriber, error) {
	names, err := h.checkSubscribeRequest(req)
	if err != nil {
		return nil, err
	}
	// Admitted before anything costly, so a refused client costs no
	// backend read; released on every failure until s owns the count.
	if err := h.admitFirst(req.Client, names); err != nil {
		return nil, err
	}
	resume, idErr := ParseID(req.LastEventID)
	var remote *remoteReplay
	l := h.link.Load()
	if l != nil && req.LastEventID != "" && idErr == nil && !h.coversLocally(resume, names) {
		// Read before taking any lock: it is a network round trip.
		if remote, err = h.replayFromBackend(l.b, names, resume); err != nil {
			h.release(req.Client)
			return nil, err
		}
	}
	chans, err := h.channelsFor(names)
	if err != nil {
		h.release(req.Client)
		return nil, err
	}
	defer h.mu.RUnlock()

	s := &Subscriber{
		hub:     h,
		client:  req.Client,
		cursors: make([]cursor, len(chans)),
		done:    make(chan struct{}),
		buffer:  uint64(h.cfg.SubscriberBuffer),
		bytes:   uint64(h.cfg.Limits.SubscriberBufferBytes),
	}
	if s.notifyFn = req.Notify; s.notifyFn == nil {
		s.wake = make(chan struct{}, 1)
	}
	if !h.noDeliveryStats {
		s.stats = &h.stats.shards[h.stats.nextShard.Add(1)%statShards]
	}
	// Every cursor names its channel before s is visible to any channel:
	// other subscribers' removals read these names under their own locks.
	for i, ch := range chans {
		s.cursors[i].ch = ch
	}
	if s.notifyFn != nil {
		h.stats.lean.Add(1) // Close takes it off
	}
	known := req.LastEventID != "" && idErr == nil && !h.lastPublishedID().Less(resume)
	if remote != nil {
		known = !remote.unknown
		s.remote = remote.events
		s.skipThrough = remote.through
		for _, name := range remote.gaps {
			s.pending = appendNotice(s.pending, GapEvent, name, GapExpired, req.LastEventID)
			h.stats.countGap(GapExpired)
		}
	}
	now := h.now()
	for i, ch := range chans {
		ch.mu.Lock()
		if max := h.cfg.Limits.MaxSubscribersPerChannel; max > 0 && len(ch.subs) >= max {
			ch.mu.Unlock()
			s.Close()
			return nil, limitErrorf(ErrOverCapacity, "max_subscribers_per_channel", "channel %q has its maximum of %d subscribers (max_subscribers_per_channel)", ch.name, max)
		}
		pos, gap := ch.log.end, false
		switch {
		case remote != nil:
			// After the range read; events the local log already lost
			// after it are a gap (only if more than the log holds were
			// published during the read). A log that never evicted
			// anything lost nothing: its evictedUpTo only marks when the
			// channel was created here, and the follower creates a
			// channel before it appends the channel's first event.
			pos = ch.log.firstAfter(remote.through)
			gap = known && ch.log.start > 0 && pos == ch.log.start && remote.through.Less(ch.log.evictedUpTo)
		case known:
			pos, gap = ch.cursorAfter(resume, now)
			gap = gap || l == nil && resume.Less(h.startID)
		}
		c := &s.cursors[i]
		c.pos, c.liveFrom = pos, ch.log.end
		c.mark.Store(c.liveFrom)
		ch.addSubscriber(s, c)
		ch.mu.Unlock()
		ch.lastUsed.Store(now.UnixNano())
		switch {
		case req.LastEventID != "" && !known:
			s.pending = appendNotice(s.pending, GapEvent, ch.name, GapUnknownID, req.LastEventID)
			h.stats.countGap(GapUnknownID)
		case gap:
			s.pending = appendNotice(s.pending, GapEvent, ch.name, GapExpired, req.LastEventID)
			h.stats.countGap(GapExpired)
		}
	}
	h.stats.accepted.Add(1)
	return s, nil
}

// admitFirst counts a new subscriber against the hub and client limits,
// and refuses it if a channel it names is full. Each channel's limit is
// checked again under its lock when the subscriber is added; this early
// check spares a refused client the backend read.
func (h *Hub) admitFirst(client string, names []string) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if err := h.admit(client); err != nil {
		return err
	}
	if max := h.cfg.Limits.MaxSubscribersPerChannel; max > 0 {
		for _, name := range names {
			ch := h.channels[name]
			if ch == nil {
				continue // created empty later
			}
			ch.mu.RLock()
			full := len(ch.subs) >= max
			ch.mu.RUnlock()
			if full {
				h.release(client)
				return limitErrorf(ErrOverCapacity, "max_subscribers_per_channel", "channel %q has its maximum of %d subscribers (max_subscribers_per_channel)", name, max)
			}
		}
	}
	return nil
}

// checkSubscribeRequest validates a request and returns its channel names
// sorted and deduplicated (the lock order).
func (h *Hub) checkSubscribeRequest(req SubscribeRequest) ([]string, error) {
	if len(req.Channels) == 0 {
		return nil, Errorf(ErrInvalid, "no channel given")
	}
	if len(req.LastEventID) > MaxLastEventIDLength {
		return nil, limitErrorf(ErrInvalid, "last_event_id_length", "Last-Event-ID is %d bytes; this hub's IDs are at most %d", len(req.LastEventID), maxIDLength)
	}
	names := slices.Clone(req.Channels)
	slices.Sort(names)
	names = slices.Compact(names)
	h.mu.RLock()
	maxChannels := h.cfg.Limits.MaxChannelsPerSubscriber
	h.mu.RUnlock()
	if len(names) > maxChannels {
		return nil, limitErrorf(ErrInvalid, "max_channels_per_subscriber", "%d channels named; a stream may name at most %d (max_channels_per_subscriber)", len(names), maxChannels)
	}
	for _, name := range names {
		if err := ValidateChannelName(name); err != nil {
			return nil, err
		}
	}
	return names, nil
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
	if s.notifyFn != nil {
		s.notifyFn()
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

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
			s.hub.stats.lean.Add(-1)
		}
		s.end(EndNone, "")
	})
}

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
	upTo := s.hub.published.Load()
	now := s.hub.now()
	var delivered, replayed, bytes uint64
	defer func() { s.flushStats(delivered, replayed, bytes) }()
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
		batch, size := (*sp)[:0], len(buf)
		for size < limit && len(batch) < snapshotCap {
			e, wasReplay := s.nextEvent(upTo)
			if e == nil {
				break
			}
			batch = append(batch, e)
			size += len(e.wire)
			delivered++
			if wasReplay {
				replayed++
			} else if s.stats != nil {
				s.stats.observeDelay(now.Sub(e.Published))
			}
		}
		more = len(batch) == snapshotCap || size >= limit
		if more && size >= limit {
			more = s.peek(upTo) != nil
		}
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
