package hub

import (
	"cmp"
	"fmt"
	"slices"
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
	// published is the number of the newest fully appended event. Every
	// event numbered at or below it is in all its channel logs, so a
	// subscriber merging several channels can read up to it safely.
	published atomic.Uint64
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
	return h, nil
}

// newChannel makes a channel with the hub's current sizing. Caller holds
// h.mu for writing, or owns h alone.
func (h *Hub) newChannel(name string, declared bool, s ChannelSettings, evictedUpTo ID) *channel {
	ch := newChannel(name, declared, s, h.cfg.liveRoom(), evictedUpTo, &h.history.dead)
	ch.lastUsed.Store(h.now().UnixNano())
	return ch
}

// Name returns the hub's name.
func (h *Hub) Name() string { return h.name }

// Configure applies a new channel layout, as on a config reload: declared
// channels are added or updated; channels no longer declared become
// on-demand channels if a pattern allows them, else they are closed.
// History and IDs are kept.
func (h *Hub) Configure(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cfg = cfg
	var closing []*channel
	for name, ch := range h.channels {
		s, declared := cfg.Channels[name]
		switch {
		case declared:
			if !ch.declared {
				h.onDemand--
			}
		case cfg.allowsOnDemand(name):
			s = cfg.OnDemandSettings
			if ch.declared {
				h.onDemand++
			}
		default:
			closing = append(closing, ch)
			continue
		}
		ch.mu.Lock()
		ch.declared = declared
		ch.settings = s
		ch.log.resize(logCapacity(s, cfg.liveRoom()))
		ch.mu.Unlock()
	}
	for _, ch := range closing {
		h.removeLocked(ch)
	}
	for name, s := range cfg.Channels {
		if _, ok := h.channels[name]; !ok {
			h.channels[name] = h.newChannel(name, true, s, h.lastPublishedID())
		}
	}
	h.publishMu.Lock()
	h.history.bound = cfg.historyBytesBound()
	h.enforceHistoryBytes()
	h.publishMu.Unlock()
	return nil
}

// lastPublishedID reads the ID sequence.
func (h *Hub) lastPublishedID() ID {
	h.publishMu.Lock()
	defer h.publishMu.Unlock()
	return h.lastID
}

// channelsFor returns the named channels, creating on-demand ones that a
// pattern allows. The caller holds h.mu for reading on success; on error
// nothing is held. The whole set is checked before anything is created, so
// a request is never half-applied.
func (h *Hub) channelsFor(names []string) ([]*channel, error) {
	for attempt := 0; ; attempt++ {
		h.mu.RLock()
		if h.closed {
			h.mu.RUnlock()
			return nil, Errorf(ErrClosed, "hub %q is shut down", h.name)
		}
		chans := make([]*channel, len(names))
		missing := false
		for i, name := range names {
			chans[i] = h.channels[name]
			missing = missing || chans[i] == nil
		}
		if !missing {
			return chans, nil
		}
		h.mu.RUnlock()
		if attempt == 3 {
			// Only a concurrent close racing every attempt gets here.
			return nil, Errorf(ErrLimit, "channels of hub %q keep being closed; try again", h.name)
		}
		if err := h.createOnDemand(names); err != nil {
			return nil, err
		}
	}
}

// createOnDemand creates the missing channels among names, or none of them.
func (h *Hub) createOnDemand(names []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return Errorf(ErrClosed, "hub %q is shut down", h.name)
	}
	var create []string
	for _, name := range names {
		if _, ok := h.channels[name]; ok || slices.Contains(create, name) {
			continue
		}
		if !h.cfg.allowsOnDemand(name) {
			return Errorf(ErrNotFound, "hub %q has no channel %q (it is not declared and matches no on-demand pattern)", h.name, name)
		}
		create = append(create, name)
	}
	if over := h.onDemand + len(create) - h.cfg.MaxOnDemandChannels; over > 0 {
		h.reclaimOnDemand(over, names)
	}
	if h.onDemand+len(create) > h.cfg.MaxOnDemandChannels {
		return limitErrorf(ErrLimit, "max_on_demand_channels", "hub %q already has %d on-demand channels with subscribers, the configured maximum is %d (max_on_demand_channels)", h.name, h.onDemand, h.cfg.MaxOnDemandChannels)
	}
	last := h.lastPublishedID()
	for _, name := range create {
		h.channels[name] = h.newChannel(name, false, h.cfg.OnDemandSettings, last)
		h.onDemand++
	}
	return nil
}

// reclaimOnDemand removes up to n on-demand channels that have no
// subscribers, least recently used first, with their history, so that
// max_on_demand_channels never locks new names out for good. Channels
// named in keep stay. Caller holds h.mu for writing, so no subscriber or
// publisher can take a channel up meanwhile.
func (h *Hub) reclaimOnDemand(n int, keep []string) {
	var idle []*channel
	for name, ch := range h.channels {
		if ch.declared || slices.Contains(keep, name) {
			continue
		}
		ch.mu.RLock()
		unused := len(ch.subs) == 0
		ch.mu.RUnlock()
		if unused {
			idle = append(idle, ch)
		}
	}
	slices.SortFunc(idle, func(a, b *channel) int { return cmp.Compare(a.lastUsed.Load(), b.lastUsed.Load()) })
	for _, ch := range idle[:min(n, len(idle))] {
		h.removeLocked(ch)
	}
}

// admit counts a new subscriber against the hub and client limits.
// Caller holds h.mu for reading.
func (h *Hub) admit(client string) error {
	h.limitsMu.Lock()
	defer h.limitsMu.Unlock()
	limits := h.cfg.Limits
	if limits.MaxSubscribers > 0 && h.subscribers >= limits.MaxSubscribers {
		return limitErrorf(ErrOverCapacity, "max_subscribers", "hub %q has its maximum of %d subscribers (max_subscribers)", h.name, limits.MaxSubscribers)
	}
	if client != "" && limits.MaxSubscribersPerClient > 0 && h.perClient[client] >= limits.MaxSubscribersPerClient {
		return limitErrorf(ErrClientLimit, "max_subscribers_per_ip", "this client already has %d streams open, the maximum (max_subscribers_per_ip)", limits.MaxSubscribersPerClient)
	}
	h.subscribers++
	if client != "" {
		h.perClient[client]++
	}
	return nil
}

// release undoes admit when a subscriber closes.
func (h *Hub) release(client string) {
	h.limitsMu.Lock()
	defer h.limitsMu.Unlock()
	h.subscribers--
	if client == "" {
		return
	}
	if h.perClient[client]--; h.perClient[client] <= 0 {
		delete(h.perClient, client)
	}
}

// Subscribers returns the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.limitsMu.Lock()
	defer h.limitsMu.Unlock()
	return h.subscribers
}

// Limits returns the hub's current limits.
func (h *Hub) Limits() Limits {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cfg.Limits
}

// Published is the outcome of publishing one event.
type Published struct {
	ID ID
	// Subscribers is how many distinct subscribers the event was queued to.
	Subscribers int
}

// Publish validates every draft, then publishes them all as one batch with
// consecutive IDs, or publishes nothing and returns the first error. With
// a backend, the backend stores the batch and assigns the IDs, and the
// follower appends it to the local logs (see Backend).
func (h *Hub) Publish(drafts ...Draft) ([]Published, error) {
	limits := h.Limits()
	if len(drafts) > limits.MaxBatch {
		return nil, limitErrorf(ErrTooLarge, "max_batch", "%d events in one request; at most %d allowed (max_batch)", len(drafts), limits.MaxBatch)
	}
	var names []string
	for i, d := range drafts {
		if len(d.Data) > limits.MaxEventBytes {
			return nil, limitErrorf(ErrTooLarge, "max_event_bytes", "event %d: data is %d bytes; at most %d allowed (max_event_bytes)", i, len(d.Data), limits.MaxEventBytes)
		}
		if err := d.Validate(); err != nil {
			if len(drafts) > 1 {
				return nil, fmt.Errorf("event %d: %w", i, err)
			}
			return nil, err
		}
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

	results := make([]Published, len(events))
	for i, e := range events {
		results[i] = Published{ID: e.ID, Subscribers: countSubscribers(e, byName)}
	}
	// One wake per subscriber per batch, not per event: a woken stream
	// reads everything available.
	for _, ch := range chans {
		ch.wake()
	}
	return results, nil
}

// appendLocked numbers e and appends it to each of its channels, then
// makes it readable (hub.published). Caller holds publishMu, so events
// enter every log in ID order.
//
// It also counts e against MaxHistoryBytes, evicting the hub's oldest
// events if need be; caller holds h.mu for reading too.
func (h *Hub) appendLocked(e *Event, byName map[string]*channel) {
	e.n = h.published.Load() + 1
	h.history.queue(e)
	for _, name := range e.Channels {
		ch := byName[name]
		ch.mu.Lock()
		ch.log.append(e)
		ch.published++
		ch.mu.Unlock()
	}
	h.published.Store(e.n)
	h.stats.published.Add(1)
	h.enforceHistoryBytes()
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

// wake signals every subscriber of the channel.
func (ch *channel) wake() {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	for _, s := range ch.subs {
		s.notify()
	}
}

// CloseChannel disconnects the channel's subscribers (each gets the
// documented closed event). An on-demand channel is removed with its
// history; a declared channel stays and keeps its history.
func (h *Hub) CloseChannel(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.channels[name]
	if !ok {
		return Errorf(ErrNotFound, "hub %q has no channel %q", h.name, name)
	}
	if ch.declared {
		ch.mu.Lock()
		subs := ch.takeSubscribers()
		ch.mu.Unlock()
		endAll(subs, EndChannelClosed, name)
		return nil
	}
	h.removeLocked(ch)
	return nil
}

// removeLocked closes and removes a channel. Caller holds h.mu for writing.
func (h *Hub) removeLocked(ch *channel) {
	ch.mu.Lock()
	ch.closed = true
	subs := ch.takeSubscribers()
	ch.log.release()
	ch.mu.Unlock()
	delete(h.channels, ch.name)
	if !ch.declared {
		h.onDemand--
	}
	endAll(subs, EndChannelClosed, ch.name)
}

// takeSubscribers empties the subscriber set. Caller holds ch.mu.
func (ch *channel) takeSubscribers() []*Subscriber {
	subs := ch.subs
	ch.subs = nil
	return subs
}

func endAll(subs []*Subscriber, reason EndReason, channel string) {
	for _, s := range subs {
		s.end(reason, channel)
	}
}

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
	h.stopBackend()
}

// HubInfo is a snapshot of a hub for the admin API.
type HubInfo struct {
	Name          string    `json:"name"`
	LastID        string    `json:"last_id,omitempty"`
	HistoryLength int       `json:"history_length"`
	OldestEventAt time.Time `json:"oldest_event_at,omitzero"`
	Totals        Stats     `json:"totals"`
	// Backend is "up" or "down" for a hub with a backend (Redis).
	Backend  string        `json:"backend,omitempty"`
	Channels []ChannelInfo `json:"channels"`
}

// Info snapshots the hub and its channels, sorted by name.
func (h *Hub) Info() HubInfo {
	h.mu.RLock()
	defer h.mu.RUnlock()
	info := HubInfo{Name: h.name, Channels: make([]ChannelInfo, 0, len(h.channels))}
	attached, up := h.BackendState()
	if last := h.lastPublishedID(); !last.Less(h.startID) || attached && !last.IsZero() {
		info.LastID = last.String()
	}
	switch {
	case attached && up:
		info.Backend = "up"
	case attached:
		info.Backend = "down"
	}
	now := h.now()
	for _, ch := range h.channels {
		ci := ch.info(now)
		info.HistoryLength += ci.HistoryLength
		if !ci.OldestEventAt.IsZero() && (info.OldestEventAt.IsZero() || ci.OldestEventAt.Before(info.OldestEventAt)) {
			info.OldestEventAt = ci.OldestEventAt
		}
		info.Channels = append(info.Channels, ci)
	}
	info.Totals = h.Stats()
	slices.SortFunc(info.Channels, func(a, b ChannelInfo) int { return cmpString(a.Name, b.Name) })
	return info
}

// ChannelInfo snapshots one channel.
func (h *Hub) ChannelInfo(name string) (ChannelInfo, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ch, ok := h.channels[name]
	if !ok {
		return ChannelInfo{}, Errorf(ErrNotFound, "hub %q has no channel %q", h.name, name)
	}
	return ch.info(h.now()), nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// runJanitor trims history by age, cuts slow consumers whose backlog
// stayed over the bound for the grace, and removes on-demand channels
// that have neither subscribers nor history left.
func (h *Hub) runJanitor(every time.Duration) {
	defer close(h.janitorDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stopJanitor:
			return
		case <-t.C:
			h.sweepRecovered()
		}
	}
}

// sweepRecovered runs Sweep, turning a panic into a report (ReportPanic):
// one failed pass must not take the process down, and the next tick tries
// again.
func (h *Hub) sweepRecovered() {
	defer func() {
		if v := recover(); v != nil {
			ReportPanic(PanicJanitor, v)
		}
	}()
	h.Sweep()
}

// Sweep runs one janitor pass now. It holds the hub lock only to list
// the channels and to remove idle ones, and each channel's lock only for
// that channel (for its subscribers, a chunk at a time), so publishing
// and subscribing go on during a pass.
func (h *Hub) Sweep() {
	h.sweepMu.Lock() // the janitor's backlog records are its own
	defer h.sweepMu.Unlock()
	now := h.now()
	h.mu.RLock()
	chans := make([]*channel, 0, len(h.channels))
	for _, ch := range h.channels {
		chans = append(chans, ch)
	}
	grace := h.cfg.slowConsumerGrace()
	h.mu.RUnlock()

	var idle []*channel
	for _, ch := range chans {
		ch.mu.Lock()
		if ch.closed { // removed since the list was taken
			ch.mu.Unlock()
			continue
		}
		ch.trim(now)
		empty := !ch.declared && len(ch.subs) == 0 && ch.log.len() == 0
		ch.mu.Unlock()
		if empty {
			idle = append(idle, ch)
			continue
		}
		h.judgeSubscribers(ch, now, grace)
	}

	h.mu.Lock()
	for _, ch := range idle {
		ch.mu.RLock()
		still := !ch.declared && len(ch.subs) == 0 && ch.log.len() == 0
		ch.mu.RUnlock()
		if still && h.channels[ch.name] == ch {
			h.removeLocked(ch)
		}
	}
	h.mu.Unlock()

	h.mu.RLock()
	h.publishMu.Lock()
	h.enforceHistoryBytes() // drops what trimming left dead
	h.publishMu.Unlock()
	h.mu.RUnlock()
}
