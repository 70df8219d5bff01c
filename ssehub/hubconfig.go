package ssehub

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/redisbackend"
)

// HubConfig is one hub's settings: its channels, history, limits and
// backend. A hub is defined either in the sse_hub app (the Caddyfile's
// global sse_hub option) or, in the short form, inside the one sse_hub
// handler that serves it; handlers that only name the hub share it.
type HubConfig struct {
	// Declared channels, by name, with their own history settings. They
	// always exist. Names are 1-128 characters from A-Z a-z 0-9 - _ . : @
	// other than "." and "..".
	Channels map[string]*ChannelConfig `json:"channels,omitempty"`

	// Patterns of channels created on first use (by a subscriber or a
	// publisher); '*' matches any run of name characters. Default: "*"
	// (any valid name) when no channel is declared, none otherwise.
	OnDemand []string `json:"on_demand,omitempty"`

	// The most on-demand channels that may exist at once; creating one
	// more fails with 409. An on-demand channel is removed once it has no
	// subscribers and no history left. Default: 1000.
	MaxOnDemandChannels int `json:"max_on_demand_channels,omitempty"`

	// History settings of on-demand channels. Default: 1000 events, 1h.
	HistorySize   *int            `json:"history_size,omitempty"`
	HistoryMaxAge *caddy.Duration `json:"history_max_age,omitempty"`

	// What happens to a subscriber of an on-demand channel that falls
	// further behind than its buffer allows: "disconnect" (the stream
	// ends; the client resumes with Last-Event-ID from history) or
	// "latest" (the backlog is dropped, the newest event kept, and the
	// client gets an sse_hub.gap event with reason "skipped").
	// Default: disconnect.
	SlowConsumer string `json:"slow_consumer,omitempty"`

	// How many events a subscriber may fall behind before the slow
	// consumer policy applies. Default: 1024.
	SubscriberBuffer int `json:"subscriber_buffer,omitempty"`

	// How many bytes of encoded events a subscriber may fall behind before
	// the slow consumer policy applies. Default: 8 MiB.
	SubscriberBufferBytes int `json:"subscriber_buffer_bytes,omitempty"`

	// How long a subscriber's backlog may stay over subscriber_buffer (or
	// subscriber_buffer_bytes) without shrinking before the slow consumer
	// policy applies: a subscriber that keeps reading through a burst is
	// never held to it. A subscriber whose write is blocked is cut within
	// this plus a second. Default: 10s.
	SlowConsumerGrace *caddy.Duration `json:"slow_consumer_grace,omitempty"`

	// The most bytes the events kept by all the hub's channels may hold
	// (each counted as its encoded frame plus 256 bytes); the hub's oldest
	// events leave history first, and a client resuming from before them
	// is told with sse_hub.gap "expired". Default: 256 MiB; -1 means no
	// bound beyond each channel's history_size and history_max_age.
	MaxHistoryBytes int64 `json:"max_history_bytes,omitempty"`

	// The most subscribers (streams) the hub holds; more get 503 with
	// Retry-After. Default: 100000; -1 means no limit.
	MaxSubscribers int `json:"max_subscribers,omitempty"`

	// The most subscribers of one channel; more get 503 with Retry-After.
	// Default: no limit beyond max_subscribers.
	MaxSubscribersPerChannel int `json:"max_subscribers_per_channel,omitempty"`

	// The most streams one client IP (Caddy's client IP, which honours
	// trusted_proxies) holds open; more get 429 with Retry-After.
	// Default: 1000; -1 means no limit.
	MaxSubscribersPerIP int `json:"max_subscribers_per_ip,omitempty"`

	// The most channels one stream may name; more get 400. Default: 64.
	MaxChannelsPerSubscriber int `json:"max_channels_per_subscriber,omitempty"`

	// The largest event data a publisher may send; larger gets 413.
	// Default: 1 MiB.
	MaxEventBytes int `json:"max_event_bytes,omitempty"`

	// The most events in one publish request; more gets 413.
	// Default: 10000.
	MaxBatch int `json:"max_batch,omitempty"`

	// The largest publish request body; larger gets 413. Default: 16 MiB.
	MaxPublishBytes int64 `json:"max_publish_bytes,omitempty"`

	// Refuse new subscribers and publishes with 503 (and Retry-After)
	// while the Go heap holds more than this many bytes (sampled, at most
	// every 100ms); nothing of a refused publish is kept. Default: 0, off.
	MaxHeapBytes int64 `json:"max_heap_bytes,omitempty"`

	// Cluster mode: store the hub's events in Redis and share them with
	// every Caddy node that names the hub with the same settings. Event IDs
	// then come from Redis, so they are the same on every node, and a
	// client may resume on any node. Default: none, the hub is in memory.
	Redis *RedisConfig `json:"redis,omitempty"`
}

// ChannelConfig holds one declared channel's settings.
type ChannelConfig struct {
	// How many recent events are kept for replay. 0 keeps none.
	// Default: 1000.
	HistorySize *int `json:"history_size,omitempty"`
	// Events older than this leave history; 0 means no age limit.
	// Default: 1h.
	HistoryMaxAge *caddy.Duration `json:"history_max_age,omitempty"`
	// The slow consumer policy of this channel: "disconnect" or "latest".
	// Default: disconnect.
	SlowConsumer string `json:"slow_consumer,omitempty"`
}

// isSet reports whether any option is set, that is whether a handler
// carrying this config defines its hub rather than only naming it.
func (c *HubConfig) isSet() bool {
	b, _ := json.Marshal(c)
	return string(b) != "{}"
}

// hubSettings is a hub's config resolved for the core and the backend:
// defaults filled, placeholders replaced. It is what a running hub is set
// to, so two definitions of a hub agree when their settings are equal.
type hubSettings struct {
	Core hub.Config
	// Redis is nil for a hub kept in memory.
	Redis *redisbackend.Config
	// MaxHeapBytes is the heap watermark above which subscribers and
	// publishes are refused; 0 is off.
	MaxHeapBytes int64
}

// errLowOnMemory refuses a subscriber or a publish under max_heap_bytes.
var errLowOnMemory = errors.New("the server is low on memory (max_heap_bytes); try again later")

// checkHeap refuses work while the heap is over the hub's watermark.
func (s hubSettings) checkHeap() error {
	if s.MaxHeapBytes > 0 && heapBytes() > uint64(s.MaxHeapBytes) {
		return errLowOnMemory
	}
	return nil
}

// settings resolves the config. It is the one place where the defaults
// of hub options are filled; the constants live in the hub core.
func (c *HubConfig) settings() (hubSettings, error) {
	onDemand, err := channelSettings(c.HistorySize, c.HistoryMaxAge, c.SlowConsumer)
	if err != nil {
		return hubSettings{}, err
	}
	cfg := hub.Config{
		Channels:            make(map[string]hub.ChannelSettings, len(c.Channels)),
		OnDemand:            slices.Clip(c.OnDemand),
		MaxOnDemandChannels: cmp.Or(c.MaxOnDemandChannels, hub.DefaultMaxOnDemandChannels),
		SubscriberBuffer:    cmp.Or(c.SubscriberBuffer, hub.DefaultSubscriberBuffer),
		SlowConsumerGrace:   hub.DefaultSlowConsumerGrace,
		MaxHistoryBytes:     cmp.Or(c.MaxHistoryBytes, hub.DefaultMaxHistoryBytes),
		OnDemandSettings:    onDemand,
		Limits: hub.Limits{
			MaxSubscribers:           countLimit(c.MaxSubscribers, hub.DefaultMaxSubscribers),
			MaxSubscribersPerChannel: countLimit(c.MaxSubscribersPerChannel, 0),
			MaxSubscribersPerClient:  countLimit(c.MaxSubscribersPerIP, hub.DefaultMaxSubscribersPerClient),
			MaxChannelsPerSubscriber: c.MaxChannelsPerSubscriber,
			MaxEventBytes:            c.MaxEventBytes,
			MaxBatch:                 c.MaxBatch,
			MaxPublishBytes:          c.MaxPublishBytes,
			SubscriberBufferBytes:    c.SubscriberBufferBytes,
		}.WithDefaults(),
	}
	if c.SlowConsumerGrace != nil {
		cfg.SlowConsumerGrace = time.Duration(*c.SlowConsumerGrace)
		if cfg.SlowConsumerGrace <= 0 {
			return hubSettings{}, fmt.Errorf("slow_consumer_grace must be positive")
		}
	}
	for name, ch := range c.Channels {
		if ch == nil {
			ch = new(ChannelConfig)
		}
		s, err := channelSettings(ch.HistorySize, ch.HistoryMaxAge, ch.SlowConsumer)
		if err != nil {
			return hubSettings{}, fmt.Errorf("channel %q: %w", name, err)
		}
		cfg.Channels[name] = s
	}
	if len(cfg.OnDemand) == 0 {
		cfg.OnDemand = nil
		if len(cfg.Channels) == 0 {
			cfg.OnDemand = []string{"*"}
		}
	}
	if err := cfg.Validate(); err != nil {
		return hubSettings{}, err
	}
	if c.MaxHeapBytes < 0 {
		return hubSettings{}, fmt.Errorf("max_heap_bytes must not be negative")
	}
	s := hubSettings{Core: cfg, MaxHeapBytes: c.MaxHeapBytes}
	if c.Redis != nil {
		if err := c.Redis.validate(); err != nil {
			return hubSettings{}, err
		}
		rc := c.Redis.backendConfig(cfg)
		if rc.MaxLen < int64(cfg.Limits.MaxBatch) {
			return hubSettings{}, fmt.Errorf("redis max_len %d is smaller than max_batch %d: a batch would push its own first events out of the stream before the nodes read them; raise max_len or lower max_batch", rc.MaxLen, cfg.Limits.MaxBatch)
		}
		s.Redis = &rc
	}
	return s, nil
}

// equal reports whether two resolved settings are the same. They are
// compared by their JSON, which sorts map keys and has no pointers.
func (s hubSettings) equal(other hubSettings) bool {
	a, errA := json.Marshal(s)
	b, errB := json.Marshal(other)
	return errA == nil && errB == nil && string(a) == string(b)
}

// sameBackend reports whether two settings use the same Redis setup (or
// both none), so a running follower can be kept.
func (s hubSettings) sameBackend(other hubSettings) bool {
	return hubSettings{Redis: s.Redis}.equal(hubSettings{Redis: other.Redis})
}

// describe names where a handler's hub definition is, for error messages
// about two definitions of one hub.
func (c *HubConfig) describe() string {
	switch {
	case len(c.Channels) > 0:
		names := make([]string, 0, len(c.Channels))
		for name := range c.Channels {
			names = append(names, name)
		}
		slices.Sort(names)
		return "the sse_hub handler declaring channel " + strings.Join(names, ", ")
	case len(c.OnDemand) > 0:
		return "the sse_hub handler with on_demand " + strings.Join(c.OnDemand, " ")
	}
	return "an sse_hub handler with hub options"
}

// countLimit maps a subscriber-count option to the core's terms: unset
// (0) takes the default, -1 asks for no limit (the core's 0).
func countLimit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func channelSettings[D ~int64](size *int, maxAge *D, slow string) (hub.ChannelSettings, error) {
	s := hub.ChannelSettings{HistorySize: hub.DefaultHistorySize, HistoryMaxAge: hub.DefaultHistoryMaxAge}
	if size != nil {
		s.HistorySize = *size
	}
	if maxAge != nil {
		s.HistoryMaxAge = time.Duration(*maxAge)
	}
	policy, err := hub.ParseSlowConsumerPolicy(slow)
	s.SlowConsumer = policy
	return s, err
}
