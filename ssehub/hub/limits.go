package hub

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
