package hub

import (
	"context"
	"slices"
	"sync/atomic"
	"time"
)

// Backend stores a hub's events outside the process, so that several nodes
// share one set of channels: every node publishes through it and follows
// it. The backend assigns the IDs, so an event has the same ID on every
// node, and a client may resume on any node.
//
// With a backend, Publish answers only after the backend stored the
// events, and never appends to the local logs itself: one follower
// goroutine per hub reads the backend in ID order and applies what it
// reads (Apply), on the publishing node as on every other, so each node's
// logs hold the events in the same strict ID order.
type Backend interface {
	// Append stores drafts as one all-or-nothing batch and returns their
	// IDs, in order; they are consecutive in the backend.
	Append(ctx context.Context, drafts []Draft) ([]ID, error)
	// AppendAndRead is Append that also returns, in the same round trip,
	// the stored events after the given ID (the new ones included, up to
	// a page), oldest first.
	AppendAndRead(ctx context.Context, drafts []Draft, after ID) ([]ID, []StoredEvent, error)
	// Read waits a short while for events after the given ID and returns
	// them, oldest first (possibly none). Entries it cannot decode come
	// back with no channels, so the follower still moves past them.
	Read(ctx context.Context, after ID) ([]StoredEvent, error)
	// Latest returns the newest stored events after the given ID, at most
	// count of them, oldest first, with a description of the store taken
	// at the same instant. With a non-zero notBefore, events with a lower
	// ID are not read either. It reads no more than count events.
	Latest(ctx context.Context, after, notBefore ID, count int) (RangePage, error)
	// HoldsBetween reports whether the store holds an event after the
	// first ID and before the second; it reads at most one.
	HoldsBetween(ctx context.Context, after, before ID) (bool, error)
	// Close releases the backend; calls in flight fail.
	Close() error
}

// StoredEvent is an event as the backend holds it: a draft and its ID.
type StoredEvent struct {
	ID    ID
	Draft Draft
}

// RangePage is one Latest answer. Events, First and Last are one snapshot.
type RangePage struct {
	Events []StoredEvent
	// First is the oldest event the store still holds (zero if none).
	First ID
	// Last is the newest ID the store ever issued (zero if none).
	Last ID
	// Trimmed reports that the store has dropped events, so an ID before
	// First may have been followed by events that are gone.
	Trimmed bool
}

// BackendState is reported when the follower's view of the backend changes.
type BackendState struct {
	Up bool
	// Err is why the backend is down.
	Err error
	// Retry is the wait before the next attempt while down.
	Retry time.Duration
}

// Follower timings: how long a call to the backend may take, and the
// reconnection backoff.
const (
	backendTimeout = 5 * time.Second
	minBackoff     = 50 * time.Millisecond
	maxBackoff     = 2 * time.Second
	// kickedBackoff is the retry interval once a publish showed the
	// backend is back.
	kickedBackoff = 5 * time.Millisecond
	// appliedWait bounds how long Publish waits for the follower to apply
	// the events it stored, so the answer can count this node's
	// subscribers and a publisher reads its own writes on this node.
	appliedWait = 2 * time.Second
)

// backendLink is an attached backend and its follower goroutine.
type backendLink struct {
	b      Backend
	cancel context.CancelFunc
	done   chan struct{}
	// kick cuts the follower's backoff short: a publish just reached the
	// backend, so it is back.
	kick chan struct{}
	// state: 0 not known yet, 1 up, 2 down; written by the follower.
	state atomic.Int32
}

func (l *backendLink) stop() {
	l.cancel()
	_ = l.b.Close() // ends a blocking read at once
	<-l.done
}

// SetBackend makes the hub store and share its events through b, or, with
// nil, keep them in memory again. A previous backend is stopped and closed
// first. onState (may be nil) is called from the follower goroutine when
// the backend goes up or down. A hub that has published nothing yet starts
// following from the backend's oldest event, which fills its history.
func (h *Hub) SetBackend(b Backend, onState func(BackendState)) {
	h.backendMu.Lock()
	defer h.backendMu.Unlock()
	if old := h.link.Load(); old != nil {
		old.stop()
		h.link.Store(nil)
	}
	if b == nil {
		return
	}
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		_ = b.Close()
		return
	}
	h.publishMu.Lock()
	if h.lastID.Less(h.startID) {
		h.lastID = ID{}
	}
	h.publishMu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	l := &backendLink{b: b, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1)}
	h.link.Store(l)
	go h.follow(ctx, l, onState)
}

// BackendState reports whether the hub has a backend and whether the
// follower last reached it.
func (h *Hub) BackendState() (attached, up bool) {
	l := h.link.Load()
	if l == nil {
		return false, false
	}
	return true, l.state.Load() == 1
}

// stopBackend ends the follower and closes the backend, on Close.
func (h *Hub) stopBackend() {
	h.backendMu.Lock()
	defer h.backendMu.Unlock()
	if l := h.link.Load(); l != nil {
		l.stop()
		h.link.Store(nil)
	}
}

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
	after := h.lastPublishedID()
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
	last := h.lastPublishedID()
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
		ch.wake()
	}
}

// publishToBackend stores validated drafts in the backend, then waits
// (bounded) until the follower applied them here, and answers with the
// IDs and this node's subscriber counts.
func (h *Hub) publishToBackend(l *backendLink, drafts []Draft) ([]Published, error) {
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
		ids, caught, err = l.b.AppendAndRead(ctx, slices.Clone(drafts), h.lastPublishedID())
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
	results := make([]Published, len(ids))
	for i, id := range ids {
		results[i] = Published{ID: id, Subscribers: h.localSubscribers(drafts[i].Channels)}
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
