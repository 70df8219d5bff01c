package hub

import (
	"slices"
	"time"
)

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
	attached, up := h.BackendStatus()
	if last := h.lastAppliedID(); !last.Less(h.startID) || attached && !last.IsZero() {
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

// ChannelInfo is a snapshot of one channel for the admin API.
type ChannelInfo struct {
	Name            string    `json:"name"`
	Declared        bool      `json:"declared"`
	Subscribers     int       `json:"subscribers"`
	Published       uint64    `json:"published"`
	Delivered       uint64    `json:"delivered"`
	Skipped         uint64    `json:"skipped"`
	SlowDisconnects uint64    `json:"slow_disconnects"`
	HistoryLength   int       `json:"history_length"`
	HistorySize     int       `json:"history_size"`
	HistoryMaxAge   string    `json:"history_max_age,omitempty"`
	LastID          string    `json:"last_id,omitempty"`
	OldestEventAt   time.Time `json:"oldest_event_at,omitzero"`
}

func (ch *channel) info(now time.Time) ChannelInfo {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	info := ChannelInfo{
		Name:            ch.name,
		Declared:        ch.declared,
		Subscribers:     len(ch.subs),
		Published:       ch.published,
		Delivered:       ch.delivered.Load(),
		Skipped:         ch.skipped.Load(),
		SlowDisconnects: ch.slowDisconnects.Load(),
		HistorySize:     ch.settings.HistorySize,
	}
	if age := ch.settings.HistoryMaxAge; age > 0 {
		info.HistoryMaxAge = age.String()
	}
	start := ch.replayStart(now)
	info.HistoryLength = int(ch.log.end - start)
	if ch.log.len() > 0 {
		info.LastID = ch.log.at(ch.log.end - 1).ID.String()
	}
	if start < ch.log.end {
		info.OldestEventAt = ch.log.at(start).PublishedAt
	}
	return info
}
