package hub

import (
	"fmt"
	"time"
)

// ChannelSettings are one channel's history bounds.
type ChannelSettings struct {
	// HistorySize is how many recent events are kept for replay.
	HistorySize int
	// HistoryMaxAge drops events from history once they are this old;
	// zero keeps them until HistorySize pushes them out.
	HistoryMaxAge time.Duration
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
	// SubscriberBuffer is how many events a subscriber may fall behind
	// before it counts as a slow consumer and is disconnected (it resumes
	// from history with Last-Event-ID). A channel's log holds its history
	// plus this many events, so even a client replaying from the oldest
	// history event gets the whole buffer.
	SubscriberBuffer int
}

// Defaults documented in the README and the Caddy config docs.
const (
	DefaultHistorySize         = 1000
	DefaultHistoryMaxAge       = time.Hour
	DefaultMaxOnDemandChannels = 1000
	DefaultSubscriberBuffer    = 1024
)

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
	if c.SubscriberBuffer < 1 {
		return Errorf(ErrInvalid, "subscriber buffer must be at least 1 event")
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

// allowsOnDemand reports whether name may be created on demand.
func (c Config) allowsOnDemand(name string) bool {
	for _, p := range c.OnDemand {
		if MatchPattern(p, name) {
			return true
		}
	}
	return false
}
