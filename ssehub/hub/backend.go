package hub

import (
	"context"
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
	// maxBackoff is short: a node that does not publish learns that the
	// backend is back only by retrying, and its subscribers wait that long.
	// A retry against a server that is down is one refused dial (or one
	// dial timeout when unreachable), cheap at four a second.
	maxBackoff = 250 * time.Millisecond
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

// BackendStatus reports whether the hub has a backend and whether the
// follower last reached it.
func (h *Hub) BackendStatus() (attached, up bool) {
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
