package hub

import (
	"slices"
	"time"
)

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

	s := h.newSubscriber(req, chans)
	from := resumePoint{
		lastEventID: req.LastEventID,
		id:          resume,
		known:       req.LastEventID != "" && idErr == nil && !h.lastAppliedID().Less(resume),
		remote:      remote,
		beforeStart: l == nil && resume.Less(h.startID),
	}
	if remote != nil {
		from.known = !remote.unknown
		s.takeRemoteReplay(remote, req.LastEventID)
	}
	if err := h.placeCursors(s, chans, from); err != nil {
		s.Close()
		return nil, err
	}
	h.stats.accepted.Add(1)
	return s, nil
}

// newSubscriber makes a subscriber of chans with the hub's current sizing;
// it is on no channel yet. Caller holds h.mu for reading.
func (h *Hub) newSubscriber(req SubscribeRequest, chans []*channel) *Subscriber {
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
		h.stats.callbackSubs.Add(1) // Close takes it off
	}
	return s
}

// resumePoint is where a new subscriber's stream starts, from the client's
// Last-Event-ID.
type resumePoint struct {
	lastEventID string // as the client sent it; "" for live only
	id          ID     // lastEventID parsed
	// known: id is one this hub (or its backend) issued.
	known bool
	// remote, if set, holds the events up to remote.through, read from
	// the backend; the cursors start after them.
	remote *remoteReplay
	// beforeStart: with no backend, id was issued before this process
	// started, so its history is gone.
	beforeStart bool
}

// takeRemoteReplay gives s the events replayed from the backend, to send
// before any cursor's, and a gap notice for each channel that lost some.
func (s *Subscriber) takeRemoteReplay(r *remoteReplay, lastEventID string) {
	s.remote = r.events
	s.skipThrough = r.through
	for _, name := range r.gaps {
		s.pending = appendNotice(s.pending, GapEvent, name, GapExpired, lastEventID)
		s.hub.stats.countGap(GapExpired)
	}
}

// placeCursors adds s to each of chans with its cursor placed after
// from, and queues a gap notice for each channel where events after from
// are lost or the ID is unknown. A channel that is full refuses s; the
// caller then closes s, which leaves the channels it was added to.
// Caller holds h.mu for reading.
func (h *Hub) placeCursors(s *Subscriber, chans []*channel, from resumePoint) error {
	now := h.now()
	for i, ch := range chans {
		ch.mu.Lock()
		if max := h.cfg.Limits.MaxSubscribersPerChannel; max > 0 && len(ch.subs) >= max {
			ch.mu.Unlock()
			return limitErrorf(ErrOverCapacity, "max_subscribers_per_channel", "channel %q has its maximum of %d subscribers (max_subscribers_per_channel)", ch.name, max)
		}
		pos, gap := ch.startPosition(from, now)
		c := &s.cursors[i]
		c.pos, c.liveFrom = pos, ch.log.end
		c.mark.Store(c.liveFrom)
		ch.addSubscriber(s, c)
		ch.mu.Unlock()
		ch.lastUsed.Store(now.UnixNano())
		switch {
		case from.lastEventID != "" && !from.known:
			s.pending = appendNotice(s.pending, GapEvent, ch.name, GapUnknownID, from.lastEventID)
			h.stats.countGap(GapUnknownID)
		case gap:
			s.pending = appendNotice(s.pending, GapEvent, ch.name, GapExpired, from.lastEventID)
			h.stats.countGap(GapExpired)
		}
	}
	return nil
}

// startPosition is where a new subscriber resuming from from reads ch
// first, and whether events after from were lost there. Caller holds
// ch.mu.
func (ch *channel) startPosition(from resumePoint, now time.Time) (pos uint64, gap bool) {
	switch {
	case from.remote != nil:
		// After the range read; events the local log already lost
		// after it are a gap (only if more than the log holds were
		// published during the read). A log that never evicted
		// anything lost nothing: its evictedUpTo only marks when the
		// channel was created here, and the follower creates a
		// channel before it appends the channel's first event.
		through := from.remote.through
		pos = ch.log.firstAfter(through)
		return pos, from.known && ch.log.start > 0 && pos == ch.log.start && through.Less(ch.log.evictedUpTo)
	case from.known:
		pos, gap = ch.cursorAfter(from.id, now)
		return pos, gap || from.beforeStart
	}
	return ch.log.end, false
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
