package hub

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// PublishResult is the outcome of publishing one event.
type PublishResult struct {
	ID ID
	// Subscribers is how many distinct subscribers the event was queued to.
	Subscribers int
}

// Publish validates every draft, then publishes them all as one batch with
// consecutive IDs, or publishes nothing and returns the first error. With
// a backend, the backend stores the batch and assigns the IDs, and the
// follower appends it to the local logs (see Backend).
func (h *Hub) Publish(drafts ...Draft) ([]PublishResult, error) {
	if err := checkDrafts(drafts, h.Limits()); err != nil {
		return nil, err
	}
	var names []string
	for _, d := range drafts {
		for _, ch := range d.Channels {
			if !slices.Contains(names, ch) {
				names = append(names, ch)
			}
		}
	}
	chans, err := h.channelsFor(names)
	if err != nil {
		return nil, err
	}
	if l := h.link.Load(); l != nil {
		h.mu.RUnlock()
		return h.publishToBackend(l, drafts)
	}
	defer h.mu.RUnlock()
	return h.publishLocally(chans, drafts), nil
}

// checkDrafts checks a batch against the limits and each draft's fields.
func checkDrafts(drafts []Draft, limits Limits) error {
	if len(drafts) > limits.MaxBatch {
		return limitErrorf(ErrTooLarge, "max_batch", "%d events in one request; at most %d allowed (max_batch)", len(drafts), limits.MaxBatch)
	}
	for i, d := range drafts {
		if len(d.Data) > limits.MaxEventBytes {
			return limitErrorf(ErrTooLarge, "max_event_bytes", "event %d: data is %d bytes; at most %d allowed (max_event_bytes)", i, len(d.Data), limits.MaxEventBytes)
		}
		if err := d.Validate(); err != nil {
			if len(drafts) > 1 {
				return fmt.Errorf("event %d: %w", i, err)
			}
			return err
		}
	}
	return nil
}

// publishLocally numbers validated drafts and appends them to chans, the
// channels they name, then wakes those channels' subscribers. Caller
// holds h.mu for reading.
func (h *Hub) publishLocally(chans []*channel, drafts []Draft) []PublishResult {
	byName := make(map[string]*channel, len(chans))
	for _, ch := range chans {
		byName[ch.name] = ch
	}

	events := make([]*Event, len(drafts))
	usedAt := h.now().UnixNano()
	for _, ch := range chans {
		ch.lastUsed.Store(usedAt)
	}
	h.publishMu.Lock()
	for i, d := range drafts {
		now := h.now()
		h.lastID = nextID(h.lastID, now)
		if h.lastID.Less(h.startID) {
			h.lastID = h.startID // the clock stepped back since the hub started
		}
		events[i] = newEvent(d, h.lastID, now)
		h.appendLocked(events[i], byName)
	}
	h.publishMu.Unlock()

	results := make([]PublishResult, len(events))
	for i, e := range events {
		results[i] = PublishResult{ID: e.ID, Subscribers: countSubscribers(e, byName)}
	}
	// One wake per subscriber per batch, not per event: a woken stream
	// reads everything available.
	for _, ch := range chans {
		h.wake(ch)
	}
	return results
}

// appendLocked numbers e and appends it to each of its channels, then
// makes it readable (Hub.readable). Caller holds publishMu, so events
// enter every log in ID order.
//
// It also counts e against MaxHistoryBytes, evicting the hub's oldest
// events if need be; caller holds h.mu for reading too.
func (h *Hub) appendLocked(e *Event, byName map[string]*channel) {
	e.n = h.readable.Load() + 1
	h.history.queue(e)
	for _, name := range e.Channels {
		ch := byName[name]
		ch.mu.Lock()
		ch.log.append(e)
		ch.published++
		ch.mu.Unlock()
	}
	h.readable.Store(e.n)
	h.stats.published.Add(1)
	h.enforceHistoryBytes()
}

// lastAppliedID is the newest ID in this node's sequence: the last one
// Publish issued, or, with a backend, the last one the follower took from
// it (Apply). Before either, it is below the hub's startID (zero with a
// backend).
func (h *Hub) lastAppliedID() ID {
	h.publishMu.Lock()
	defer h.publishMu.Unlock()
	return h.lastID
}

// countSubscribers returns how many distinct subscribers e's channels
// have (one on several of the channels counts once).
func countSubscribers(e *Event, byName map[string]*channel) int {
	if len(e.Channels) == 1 {
		ch := byName[e.Channels[0]]
		ch.mu.RLock()
		defer ch.mu.RUnlock()
		return len(ch.subs)
	}
	seen := make(map[*Subscriber]struct{})
	for _, name := range e.Channels {
		ch := byName[name]
		ch.mu.RLock()
		for _, s := range ch.subs {
			seen[s] = struct{}{}
		}
		ch.mu.RUnlock()
	}
	return len(seen)
}

// publishToBackend stores validated drafts in the backend, then waits
// (bounded) until the follower applied them here, and answers with the
// IDs and this node's subscriber counts.
func (h *Hub) publishToBackend(l *backendLink, drafts []Draft) ([]PublishResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	// A copy: handing the caller's slice to an interface would make every
	// in-memory Publish allocate its variadic drafts on the heap.
	var ids []ID
	var err error
	if l.state.Load() == 1 {
		ids, err = l.b.Append(ctx, slices.Clone(drafts))
	} else {
		// The follower is not reading (the store was down, or it has not
		// started): even once the store is back, its next read may wait
		// for its backoff, or fail while the client reconnects. So this
		// publish reads what the node lacks on the connection that just
		// stored the events, and applies it itself; Apply skips what the
		// follower applies too, and reads start at the last applied ID,
		// so the logs stay in order without gap.
		var caught []StoredEvent
		ids, caught, err = l.b.AppendAndRead(ctx, slices.Clone(drafts), h.lastAppliedID())
		if err == nil {
			h.Apply(caught)
		}
	}
	if err != nil {
		return nil, Errorf(ErrUnavailable, "hub %q: the event store is unavailable, nothing was published (%v); try again later", h.name, err)
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
	h.waitApplied(ids[len(ids)-1], appliedWait)
	results := make([]PublishResult, len(ids))
	for i, id := range ids {
		results[i] = PublishResult{ID: id, Subscribers: h.localSubscribers(drafts[i].Channels)}
	}
	return results, nil
}

// waitApplied waits until the follower applied id, or within passes.
func (h *Hub) waitApplied(id ID, within time.Duration) bool {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		h.publishMu.Lock()
		done, next := !h.lastID.Less(id), h.applied
		h.publishMu.Unlock()
		if done {
			return true
		}
		select {
		case <-next:
		case <-timer.C:
			return false
		}
	}
}

// localSubscribers counts the distinct subscribers of the named channels
// on this node.
func (h *Hub) localSubscribers(names []string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	seen := make(map[*Subscriber]struct{})
	for _, name := range names {
		if ch := h.channels[name]; ch != nil {
			ch.mu.RLock()
			for _, s := range ch.subs {
				seen[s] = struct{}{}
			}
			ch.mu.RUnlock()
		}
	}
	return len(seen)
}
