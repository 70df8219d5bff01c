package ssehub

import (
	"fmt"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// setsHubOptions reports whether this handler configures its hub, rather
// than only naming a hub that another handler configures.
func (h *Handler) setsHubOptions() bool {
	return len(h.Channels) > 0 || len(h.OnDemand) > 0 || h.MaxOnDemandChannels != 0 ||
		h.HistorySize != nil || h.HistoryMaxAge != nil || h.SlowConsumer != "" ||
		h.SubscriberBuffer != 0 || h.SubscriberBufferBytes != 0 ||
		h.MaxSubscribers != 0 || h.MaxSubscribersPerChannel != 0 || h.MaxSubscribersPerIP != 0 ||
		h.MaxChannelsPerSubscriber != 0 || h.MaxEventBytes != 0 || h.MaxBatch != 0 || h.MaxPublishBytes != 0 ||
		h.Redis != nil
}

// hubConfig translates the JSON options into the core's config, with the
// documented defaults filled in.
func (h *Handler) hubConfig() (hub.Config, error) {
	onDemand, err := channelSettings(h.HistorySize, h.HistoryMaxAge, h.SlowConsumer)
	if err != nil {
		return hub.Config{}, err
	}
	cfg := hub.Config{
		Channels:            make(map[string]hub.ChannelSettings, len(h.Channels)),
		OnDemand:            h.OnDemand,
		MaxOnDemandChannels: h.MaxOnDemandChannels,
		SubscriberBuffer:    h.SubscriberBuffer,
		OnDemandSettings:    onDemand,
		Limits: hub.Limits{
			MaxSubscribers:           countLimit(h.MaxSubscribers, hub.DefaultMaxSubscribers),
			MaxSubscribersPerChannel: countLimit(h.MaxSubscribersPerChannel, 0),
			MaxSubscribersPerClient:  countLimit(h.MaxSubscribersPerIP, hub.DefaultMaxSubscribersPerClient),
			MaxChannelsPerSubscriber: h.MaxChannelsPerSubscriber,
			MaxEventBytes:            h.MaxEventBytes,
			MaxBatch:                 h.MaxBatch,
			MaxPublishBytes:          h.MaxPublishBytes,
			SubscriberBufferBytes:    h.SubscriberBufferBytes,
		}.WithDefaults(),
	}
	for name, c := range h.Channels {
		if c == nil {
			c = new(ChannelConfig)
		}
		s, err := channelSettings(c.HistorySize, c.HistoryMaxAge, c.SlowConsumer)
		if err != nil {
			return hub.Config{}, fmt.Errorf("channel %q: %w", name, err)
		}
		cfg.Channels[name] = s
	}
	if len(cfg.OnDemand) == 0 && len(cfg.Channels) == 0 {
		cfg.OnDemand = []string{"*"}
	}
	if cfg.MaxOnDemandChannels == 0 {
		cfg.MaxOnDemandChannels = hub.DefaultMaxOnDemandChannels
	}
	if cfg.SubscriberBuffer == 0 {
		cfg.SubscriberBuffer = hub.DefaultSubscriberBuffer
	}
	return cfg, nil
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
