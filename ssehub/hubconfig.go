package ssehub

import (
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// setsHubOptions reports whether this handler configures its hub, rather
// than only naming a hub that another handler configures.
func (h *Handler) setsHubOptions() bool {
	return len(h.Channels) > 0 || len(h.OnDemand) > 0 || h.MaxOnDemandChannels != 0 ||
		h.HistorySize != nil || h.HistoryMaxAge != nil || h.SubscriberBuffer != 0
}

// hubConfig translates the JSON options into the core's config, with the
// documented defaults filled in.
func (h *Handler) hubConfig() hub.Config {
	cfg := hub.Config{
		Channels:            make(map[string]hub.ChannelSettings, len(h.Channels)),
		OnDemand:            h.OnDemand,
		MaxOnDemandChannels: h.MaxOnDemandChannels,
		SubscriberBuffer:    h.SubscriberBuffer,
		OnDemandSettings:    historySettings(h.HistorySize, h.HistoryMaxAge),
	}
	for name, c := range h.Channels {
		if c == nil {
			c = new(ChannelConfig)
		}
		cfg.Channels[name] = historySettings(c.HistorySize, c.HistoryMaxAge)
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
	return cfg
}

func historySettings[D ~int64](size *int, maxAge *D) hub.ChannelSettings {
	s := hub.ChannelSettings{HistorySize: hub.DefaultHistorySize, HistoryMaxAge: hub.DefaultHistoryMaxAge}
	if size != nil {
		s.HistorySize = *size
	}
	if maxAge != nil {
		s.HistoryMaxAge = time.Duration(*maxAge)
	}
	return s
}
