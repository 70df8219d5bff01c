package hub

import (
	"sync"
	"sync/atomic"
	"time"
)

// Hub is a named set of channels with one ID sequence.
//
// Locking, always taken in this order: mu (channel map and config), then
// publishMu (ID sequence and log appends, so every channel log is in ID
// order), then one channel's mu. Publishing and subscribing take mu for
// reading; only creating, removing and reconfiguring channels write it.
type Hub struct {
	name string
	// startID is the smallest ID this hub can issue: a Last-Event-ID below
	// it was issued before the process (re)started, so its history is gone.
	startID ID
	now     func() time.Time

	mu       sync.RWMutex
	cfg      Config
	channels map[string]*channel
	onDemand int // on-demand channels in channels
	closed   bool

	limitsMu    sync.Mutex // guards subscribers and perClient
	subscribers int
	perClient   map[string]int

	publishMu sync.Mutex
	lastID    ID // guarded by publishMu
	// coveredFrom is the first event applied from a backend: this node's
	// logs prove nothing about IDs before it. Guarded by publishMu.
	coveredFrom ID
	// applied is closed and replaced each time Apply ran, for publishers
	// waiting for their events. Guarded by publishMu.
	applied chan struct{}
	// readable is the number (Event.n) of the newest fully appended
	// event. Every event numbered at or below it is in all its channel
	// logs, so a subscriber merging several channels can read up to it
	// safely. Written under publishMu, read lock-free.
	readable atomic.Uint64
	// history bounds the bytes the logs hold; see historyBytes.
	history historyBytes

	// sweepMu serializes Sweep: the janitor goroutine, and tests.
	sweepMu sync.Mutex

	stats hubStats
	// noDeliveryStats turns off per-delivery counting, so a benchmark can
	// show what the counting costs.
	noDeliveryStats bool

	stopJanitor chan struct{}
	janitorDone chan struct{}
	fanout      *fanout

	// backendMu serializes SetBackend and Close; link is read lock-free.
	backendMu sync.Mutex
	link      atomic.Pointer[backendLink]
}

// New creates a hub and starts its janitor, which trims history by age and
// removes idle on-demand channels; Close stops it.
func New(name string, cfg Config) (*Hub, error) {
	return newHub(name, cfg, time.Now, time.Second)
}

func newHub(name string, cfg Config, now func() time.Time, janitorEvery time.Duration) (*Hub, error) {
	if err := ValidateHubName(name); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Hub{
		name:        name,
		now:         now,
		channels:    make(map[string]*channel),
		perClient:   make(map[string]int),
		stopJanitor: make(chan struct{}),
		janitorDone: make(chan struct{}),
		applied:     make(chan struct{}),
		fanout:      newFanout(),
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	h.startID = nextID(ID{}, now())
	h.lastID = ID{Ms: h.startID.Ms - 1, Seq: 0}
	h.cfg = cfg
	h.history.bound = cfg.historyBytesBound()
	for name, s := range cfg.Channels {
		h.channels[name] = h.newChannel(name, true, s, ID{})
	}
	go h.runJanitor(janitorEvery)
	go h.fanout.run()
	return h, nil
}

// wake wakes ch's subscribers: inline when they are few, else through the
// fanout goroutine.
func (h *Hub) wake(ch *channel) {
	if ch.crowded() {
		h.fanout.request(ch)
		return
	}
	ch.wake()
}

// Name returns the hub's name.
func (h *Hub) Name() string { return h.name }

// Close shuts the hub down: every subscriber is ended and the janitor stops.
// Publishing and subscribing fail afterwards.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	var subs []*Subscriber
	for _, ch := range h.channels {
		ch.mu.Lock()
		subs = append(subs, ch.takeSubscribers()...)
		ch.mu.Unlock()
	}
	h.mu.Unlock()
	endAll(subs, EndHubClosed, "")
	close(h.stopJanitor)
	<-h.janitorDone
	h.fanout.close()
	h.stopBackend()
}
