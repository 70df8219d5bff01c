package hub

import (
	"cmp"
	"slices"
)

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
			h.channels[name] = h.newChannel(name, true, s, h.lastAppliedID())
		}
	}
	h.publishMu.Lock()
	h.history.bound = cfg.historyBytesBound()
	h.enforceHistoryBytes()
	h.publishMu.Unlock()
	return nil
}

// newChannel makes a channel with the hub's current sizing. Caller holds
// h.mu for writing, or owns h alone.
func (h *Hub) newChannel(name string, declared bool, s ChannelSettings, evictedUpTo ID) *channel {
	ch := newChannel(name, declared, s, h.cfg.liveRoom(), evictedUpTo, &h.history.dead)
	ch.lastUsed.Store(h.now().UnixNano())
	return ch
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
			return nil, Errorf(ErrOnDemandLimit, "channels of hub %q keep being closed; try again", h.name)
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
		return limitErrorf(ErrOnDemandLimit, "max_on_demand_channels", "hub %q already has %d on-demand channels with subscribers, the configured maximum is %d (max_on_demand_channels)", h.name, h.onDemand, h.cfg.MaxOnDemandChannels)
	}
	last := h.lastAppliedID()
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
