package hub

import (
	"fmt"
	"math"
	"time"
)

// ChannelSettings are one channel's history bounds and slow-consumer policy.
type ChannelSettings struct {
	// HistorySize is how many recent events are kept for replay.
	HistorySize int
	// HistoryMaxAge drops events from history once they are this old;
	// zero keeps them until HistorySize pushes them out.
	HistoryMaxAge time.Duration
	// SlowConsumer is what happens to a subscriber that falls further
	// behind than its buffer allows.
	SlowConsumer SlowConsumerPolicy
}

// SlowConsumerPolicy is what a channel does with a subscriber that falls
// too far behind.
type SlowConsumerPolicy int

const (
	// Disconnect ends the stream. The client resumes with Last-Event-ID
	// and replays from history, so nothing is lost while history holds it.
	Disconnect SlowConsumerPolicy = iota
	// Latest drops the backlog: the subscriber jumps to the newest event
	// and is sent a GapEvent with reason GapSkipped. For last-value
	// channels such as tickers, where only the newest value matters.
	Latest
)

// ParseSlowConsumerPolicy reads a policy name as written in config.
func ParseSlowConsumerPolicy(name string) (SlowConsumerPolicy, error) {
	switch name {
	case "", "disconnect":
		return Disconnect, nil
	case "latest":
		return Latest, nil
	}
	return 0, Errorf(ErrInvalid, "slow consumer policy %q: must be disconnect or latest", name)
}

func (p SlowConsumerPolicy) String() string {
	if p == Latest {
		return "latest"
	}
	return "disconnect"
}

// Limits bound what clients and publishers may take from a hub. Zero
// means unlimited for the subscriber counts; the other fields are filled
// with their defaults by WithDefaults.
type Limits struct {
	// MaxSubscribers bounds the hub's subscribers (streams).
	MaxSubscribers int
	// MaxSubscribersPerChannel bounds each channel's subscribers.
	MaxSubscribersPerChannel int
	// MaxSubscribersPerClient bounds the streams of one client (the HTTP
	// layer passes the client IP).
	MaxSubscribersPerClient int
	// MaxChannelsPerSubscriber bounds how many channels one stream names.
	MaxChannelsPerSubscriber int
	// MaxEventBytes bounds an event's data.
	MaxEventBytes int
	// MaxBatch bounds the events of one publish request.
	MaxBatch int
	// MaxPublishBytes bounds a publish request body (read by the HTTP layer).
	MaxPublishBytes int64
	// SubscriberBufferBytes bounds, in encoded bytes, how far a subscriber
	// may fall behind, beside Config.SubscriberBuffer in events.
	SubscriberBufferBytes int
}

// Config is a hub's channel layout.
type Config struct {
	// Channels are declared channels: they always exist.
	Channels map[string]ChannelSettings
	// OnDemand patterns name channels created when first used.
	OnDemand []string
	// MaxOnDemandChannels bounds how many on-demand channels exist at once.
	MaxOnDemandChannels int
	// OnDemandSettings apply to every on-demand channel.
	OnDemandSettings ChannelSettings
	// SubscriberBuffer is how many unread live events a subscriber may
	// hold without its backlog counting as over the bound; see
	// SlowConsumerGrace for when that makes it a slow consumer. A
	// channel's log holds its history plus this many events plus a whole
	// batch (Limits.MaxBatch), so a subscriber that keeps reading never
	// loses an event to a burst.
	SubscriberBuffer int
	// SlowConsumerGrace is how long a subscriber's backlog may stay over
	// SubscriberBuffer events or Limits.SubscriberBufferBytes bytes without
	// shrinking before the channel's slow-consumer policy applies (slow.go). The hub's janitor checks
	// every second, so a subscriber whose write is blocked is cut within
	// the grace plus a second. Zero means DefaultSlowConsumerGrace.
	SlowConsumerGrace time.Duration
	// MaxHistoryBytes bounds what the events held by all the hub's channel
	// logs cost, counted as their encoded size plus a fixed overhead per
	// event. When a publish goes over it, the hub's oldest events are
	// evicted first, whatever their channel; a client resuming from before
	// them is told with a GapEvent (GapExpired), and a live subscriber
	// that had not read them is handled as a slow consumer. Keep it well
	// above Limits.MaxPublishBytes, so a whole batch fits. Zero means
	// DefaultMaxHistoryBytes; -1 means no bound.
	MaxHistoryBytes int64
	// Limits bound subscribers and publishers.
	Limits Limits
}

// Defaults documented in the README and the Caddy config docs.
const (
	DefaultHistorySize         = 1000
	DefaultHistoryMaxAge       = time.Hour
	DefaultMaxOnDemandChannels = 1000
	DefaultSubscriberBuffer    = 1024
	DefaultSlowConsumerGrace   = 10 * time.Second
	DefaultMaxHistoryBytes     = 256 << 20

	DefaultMaxSubscribers           = 100_000
	DefaultMaxSubscribersPerClient  = 1000
	DefaultMaxChannelsPerSubscriber = 64
	DefaultMaxEventBytes            = 1 << 20
	DefaultMaxBatch                 = 10_000
	DefaultMaxPublishBytes          = 16 << 20
	DefaultSubscriberBufferBytes    = 8 << 20
)

// WithDefaults fills zero size limits with their defaults. Zero subscriber
// counts stay zero, which the hub reads as unlimited: the HTTP layer
// applies DefaultMaxSubscribers and DefaultMaxSubscribersPerClient, where
// a user can also ask for no limit.
func (l Limits) WithDefaults() Limits {
	if l.MaxChannelsPerSubscriber == 0 {
		l.MaxChannelsPerSubscriber = DefaultMaxChannelsPerSubscriber
	}
	if l.MaxEventBytes == 0 {
		l.MaxEventBytes = DefaultMaxEventBytes
	}
	if l.MaxBatch == 0 {
		l.MaxBatch = DefaultMaxBatch
	}
	if l.MaxPublishBytes == 0 {
		l.MaxPublishBytes = DefaultMaxPublishBytes
	}
	if l.SubscriberBufferBytes == 0 {
		l.SubscriberBufferBytes = DefaultSubscriberBufferBytes
	}
	return l
}

func (l Limits) validate() error {
	for name, v := range map[string]int64{
		"max subscribers":             int64(l.MaxSubscribers),
		"max subscribers per channel": int64(l.MaxSubscribersPerChannel),
		"max subscribers per client":  int64(l.MaxSubscribersPerClient),
		"max channels per subscriber": int64(l.MaxChannelsPerSubscriber),
		"max event bytes":             int64(l.MaxEventBytes),
		"max batch":                   int64(l.MaxBatch),
		"max publish bytes":           l.MaxPublishBytes,
		"subscriber buffer bytes":     int64(l.SubscriberBufferBytes),
	} {
		if v < 0 {
			return Errorf(ErrInvalid, "%s must not be negative", name)
		}
	}
	return nil
}

// Validate checks names, patterns and bounds.
func (c Config) Validate() error {
	for name, s := range c.Channels {
		if err := ValidateChannelName(name); err != nil {
			return err
		}
		if err := s.validate(); err != nil {
			return fmt.Errorf("channel %q: %w", name, err)
		}
	}
	for _, p := range c.OnDemand {
		if err := ValidatePattern(p); err != nil {
			return err
		}
	}
	if c.MaxOnDemandChannels < 0 {
		return Errorf(ErrInvalid, "max on-demand channels must not be negative")
	}
	if c.SlowConsumerGrace < 0 {
		return Errorf(ErrInvalid, "slow consumer grace must not be negative")
	}
	if c.MaxHistoryBytes < -1 {
		return Errorf(ErrInvalid, "max history bytes must be positive, 0 for the default, or -1 for no bound")
	}
	if c.SubscriberBuffer < 1 {
		return Errorf(ErrInvalid, "subscriber buffer must be at least 1 event")
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	return c.OnDemandSettings.validate()
}

func (s ChannelSettings) validate() error {
	if s.HistorySize < 0 {
		return Errorf(ErrInvalid, "history size must not be negative")
	}
	if s.HistoryMaxAge < 0 {
		return Errorf(ErrInvalid, "history max age must not be negative")
	}
	return nil
}

// slowConsumerGrace is SlowConsumerGrace with its default.
func (c Config) slowConsumerGrace() time.Duration {
	if c.SlowConsumerGrace == 0 {
		return DefaultSlowConsumerGrace
	}
	return c.SlowConsumerGrace
}

// historyBytesBound is MaxHistoryBytes with its default; no bound is
// math.MaxInt64.
func (c Config) historyBytesBound() int64 {
	switch {
	case c.MaxHistoryBytes == 0:
		return DefaultMaxHistoryBytes
	case c.MaxHistoryBytes < 0:
		return math.MaxInt64
	}
	return c.MaxHistoryBytes
}

// liveRoom is how many events a channel's log holds beyond its history:
// the subscriber buffer and a whole batch, so neither a subscriber at the
// edge of its buffer nor one replaying from the oldest history event loses
// an event of the largest batch before it can read it. It saturates
// rather than wrap.
func (c Config) liveRoom() int {
	batch := c.Limits.MaxBatch
	if batch == 0 {
		batch = DefaultMaxBatch
	}
	if c.SubscriberBuffer > math.MaxInt-batch {
		return math.MaxInt
	}
	return c.SubscriberBuffer + batch
}

// allowsOnDemand reports whether name may be created on demand.
func (c Config) allowsOnDemand(name string) bool {
	for _, p := range c.OnDemand {
		if MatchPattern(p, name) {
			return true
		}
	}
	return false
}
