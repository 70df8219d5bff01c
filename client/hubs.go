package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// HubInfo describes a hub and its channels (sorted by name).
type HubInfo struct {
	Name string `json:"name"`
	// LastID is the last event ID the hub assigned; empty before the first.
	LastID string `json:"last_id,omitempty"`
	// Backend is "up" or "down" for a hub on Redis, empty in memory.
	Backend string `json:"backend,omitempty"`
	// HistoryLength is how many events the hub's channels hold in history.
	HistoryLength int `json:"history_length"`
	// OldestEventAt is when the oldest event in any history was published.
	OldestEventAt time.Time `json:"oldest_event_at,omitzero"`
	// Totals are the hub's running totals since it was created.
	Totals   HubTotals     `json:"totals"`
	Channels []ChannelInfo `json:"channels"`
}

// HubTotals are a hub's running totals; they survive config reloads.
type HubTotals struct {
	Subscribers int `json:"subscribers"`
	// LeanSubscribers are the streams among Subscribers on the lean path.
	LeanSubscribers int               `json:"lean_subscribers"`
	Accepted        uint64            `json:"accepted"`
	Published       uint64            `json:"published"`
	Delivered       uint64            `json:"delivered"`
	Replayed        uint64            `json:"replayed"`
	BytesDelivered  uint64            `json:"bytes_delivered"`
	SlowDisconnects uint64            `json:"slow_disconnects"`
	Skipped         uint64            `json:"skipped"`
	Gaps            map[string]uint64 `json:"gaps"`
	// HistoryBytes is what the hub's history holds, counted against its
	// max_history_bytes; HistoryEvicted counts events that bound pushed out.
	HistoryBytes   int64  `json:"history_bytes"`
	HistoryEvicted uint64 `json:"history_evicted"`
}

// ChannelInfo describes one channel.
type ChannelInfo struct {
	Name string `json:"name"`
	// Declared is true for a channel named in the config, false for one
	// created on demand.
	Declared    bool   `json:"declared"`
	Subscribers int    `json:"subscribers"`
	Published   uint64 `json:"published"`
	// Delivered counts events handed to subscribers; Skipped those dropped
	// by the latest policy; SlowDisconnects the slow subscribers cut off.
	Delivered       uint64 `json:"delivered"`
	Skipped         uint64 `json:"skipped"`
	SlowDisconnects uint64 `json:"slow_disconnects"`
	// HistoryLength is how many events history holds now, out of
	// HistorySize.
	HistoryLength int    `json:"history_length"`
	HistorySize   int    `json:"history_size"`
	HistoryMaxAge string `json:"history_max_age,omitempty"`
	LastID        string `json:"last_id,omitempty"`
	// OldestEventAt is when the oldest event in history was published.
	OldestEventAt time.Time `json:"oldest_event_at,omitzero"`
}

// Hubs lists every hub of the running config.
func (c *Client) Hubs(ctx context.Context) ([]HubInfo, error) {
	var hubs []HubInfo
	err := c.do(ctx, "list hubs", http.MethodGet, "/sse_hub/hubs", "", nil, &hubs)
	return hubs, err
}

// Hub describes one hub; an empty name means "default".
func (c *Client) Hub(ctx context.Context, name string) (HubInfo, error) {
	var info HubInfo
	err := c.do(ctx, "get hub", http.MethodGet, "/sse_hub/hubs/"+url.PathEscape(hubName(name)), "", nil, &info)
	return info, err
}

// CloseChannel closes a channel: its subscribers get an sse_hub.closed
// event and are disconnected; an on-demand channel is removed with its
// history, a declared one keeps its history.
func (c *Client) CloseChannel(ctx context.Context, hub, channel string) error {
	var closed struct {
		Closed string `json:"closed"`
	}
	path := "/sse_hub/hubs/" + url.PathEscape(hubName(hub)) + "/channels/" + url.PathEscape(channel)
	return c.do(ctx, "close channel", http.MethodDelete, path, "", nil, &closed)
}

func hubName(name string) string {
	if name == "" {
		return DefaultHub
	}
	return name
}
