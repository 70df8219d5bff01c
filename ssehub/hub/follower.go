package hub

import (
	"context"
	"time"
)

// follow reads the backend from the last applied ID and applies what it
// reads, until ctx ends. When the backend fails it retries with
// exponential backoff and resumes from the last ID it saw, so nothing the
// backend holds is missed.
func (h *Hub) follow(ctx context.Context, l *backendLink, onState func(BackendState)) {
	defer close(l.done)
	// A panic (a bug) ends one round, which is reported; the next one
	// resumes from the last applied ID, as after a backend failure.
	for !h.followRecovering(ctx, l, onState) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(maxBackoff):
		}
	}
}

// followRecovering runs followUntilDone, turning a panic into a report;
// it reports whether the follower is done (ctx ended).
func (h *Hub) followRecovering(ctx context.Context, l *backendLink, onState func(BackendState)) (done bool) {
	defer func() {
		if v := recover(); v != nil {
			ReportPanic(PanicRedisFollower, v)
			done = ctx.Err() != nil
		}
	}()
	h.followUntilDone(ctx, l, onState)
	return true
}

// followUntilDone is the follower's loop; it returns when ctx ends.
func (h *Hub) followUntilDone(ctx context.Context, l *backendLink, onState func(BackendState)) {
	after := h.lastAppliedID()
	wait := minBackoff
	report := func(s BackendState) {
		next := int32(2)
		if s.Up {
			next = 1
		}
		if l.state.Swap(next) != next && onState != nil {
			onState(s)
		}
	}
	for ctx.Err() == nil {
		events, err := l.b.Read(ctx, after)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			report(BackendState{Err: err, Retry: wait})
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
				wait = min(2*wait, maxBackoff)
			case <-l.kick:
				// A publish just got through, so Redis is back, but the
				// client may still fail a call or two while it reconnects
				// (go-redis fails dials fast until its background probe
				// succeeds): retry at the shortest backoff, not the cap,
				// so the publisher's wait and delivery stay short.
				wait = kickedBackoff
			}
			continue
		}
		wait = minBackoff
		report(BackendState{Up: true})
		if len(events) == 0 {
			continue
		}
		h.Apply(events)
		if last := events[len(events)-1].ID; after.Less(last) {
			after = last
		}
	}
}

// Apply appends events that already carry their IDs (read from the
// backend) to the local channel logs and wakes their subscribers, exactly
// as Publish does for its own events. Events must come in ID order; those
// not newer than the last applied one are skipped, so reading the same
// range twice is harmless. Invalid events (not written by a hub) and
// channels this node may not create are skipped: the event is stored
// already and cannot be refused.
func (h *Hub) Apply(events []StoredEvent) {
	h.createChannelsOf(events)
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return
	}
	byName := make(map[string]*channel)
	h.publishMu.Lock()
	for _, se := range events {
		if !h.lastID.Less(se.ID) {
			continue
		}
		h.lastID = se.ID
		if h.coveredFrom.IsZero() {
			h.coveredFrom = se.ID
		}
		d := se.Draft
		if d.Validate() != nil {
			continue
		}
		local := d.Channels[:0:0]
		for _, name := range d.Channels {
			if ch := h.channels[name]; ch != nil {
				byName[name] = ch
				local = append(local, name)
			}
		}
		if len(local) == 0 {
			continue
		}
		d.Channels = local
		h.appendLocked(newEvent(d, se.ID, time.UnixMilli(int64(se.ID.Ms))), byName)
	}
	close(h.applied)
	h.applied = make(chan struct{})
	h.publishMu.Unlock()
	// One wake per channel for the whole read, as Publish does per batch.
	for _, ch := range byName {
		h.wake(ch)
	}
}

// createChannelsOf creates the on-demand channels that events not applied
// yet name and this node lacks, each on its own: one over the limit is
// simply not on this node.
func (h *Hub) createChannelsOf(events []StoredEvent) {
	last := h.lastAppliedID()
	var missing []string
	h.mu.RLock()
	for _, se := range events {
		if !last.Less(se.ID) {
			continue
		}
		for _, name := range se.Draft.Channels {
			if _, ok := h.channels[name]; !ok && ValidateChannelName(name) == nil && h.cfg.allowsOnDemand(name) {
				missing = append(missing, name)
			}
		}
	}
	h.mu.RUnlock()
	for _, name := range missing {
		_ = h.createOnDemand([]string{name}) // over the limit: not on this node
	}
}
