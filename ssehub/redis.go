package ssehub

import (
	"fmt"
	"net"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/redisbackend"
)

// RedisConfig puts a hub in cluster mode: its events are stored in a Redis
// Stream, every node that names the hub with the same Redis settings
// serves the same channels, and a client may resume on any node.
// Publishing answers only after Redis stored the event; while Redis is
// unreachable publishing fails with 503 and open streams stay open.
type RedisConfig struct {
	// Redis addresses (host:port): one server; several Redis Cluster
	// nodes; or, with sentinel_master, the Sentinels.
	// Default: ["127.0.0.1:6379"].
	Addresses []string `json:"addresses,omitempty"`

	// ACL user name, if Redis requires one.
	Username string `json:"username,omitempty"`

	// Password; placeholders such as {env.REDIS_PASSWORD} are resolved
	// when the config is loaded.
	Password string `json:"password,omitempty"`

	// Database number (not used by Redis Cluster). Default: 0.
	DB int `json:"db,omitempty"`

	// Connect with TLS, verifying the server against the system roots.
	TLS bool `json:"tls,omitempty"`

	// Prefix of the keys sse_hub uses; the hub's stream is
	// "<prefix>hub:<hub name>". Default: "sse_hub:".
	Prefix string `json:"prefix,omitempty"`

	// The Sentinel master name: Addresses are then Sentinels.
	SentinelMaster string `json:"sentinel_master,omitempty"`

	// The length the hub's stream is trimmed to (approximately, never
	// below), which bounds replay from Redis and Redis memory. It must
	// hold a whole max_batch, or a batch would push its own first events
	// out before the nodes read them. Default: the sum of the declared
	// channels' history_size, plus the on-demand history_size times
	// min(max_on_demand_channels, 100), plus max_batch and
	// subscriber_buffer, so a whole batch stays readable until every node
	// has it.
	MaxLen int64 `json:"max_len,omitempty"`
}

// Defaults of the redis options.
const (
	DefaultRedisAddress = "127.0.0.1:6379"
	DefaultRedisPrefix  = "sse_hub:"
	// onDemandStreamShare is how many on-demand channels' histories the
	// default stream length makes room for: all of them (1000 by default)
	// would mean a million entries per hub.
	onDemandStreamShare = 100
)

// backendConfig resolves placeholders and fills defaults.
func (rc *RedisConfig) backendConfig(cfg hub.Config) redisbackend.Config {
	repl := caddy.NewReplacer()
	bc := redisbackend.Config{
		Addrs:      rc.Addresses,
		Username:   repl.ReplaceAll(rc.Username, ""),
		Password:   repl.ReplaceAll(rc.Password, ""),
		DB:         rc.DB,
		TLS:        rc.TLS,
		MasterName: rc.SentinelMaster,
		Prefix:     rc.Prefix,
		MaxLen:     rc.MaxLen,
	}
	if len(bc.Addrs) == 0 {
		bc.Addrs = []string{DefaultRedisAddress}
	}
	if bc.Prefix == "" {
		bc.Prefix = DefaultRedisPrefix
	}
	if bc.MaxLen == 0 {
		bc.MaxLen = defaultStreamLength(cfg)
	}
	return bc
}

// defaultStreamLength sizes the stream from the history settings (each
// declared channel's history_size, and the on-demand history for up to
// onDemandStreamShare channels) and the largest batch. The stream is shared by every channel, so
// this is exact when each channel publishes at its history's pace; set
// max_len when a busy channel would push a quiet one's history out.
func defaultStreamLength(cfg hub.Config) int64 {
	var n int64
	for _, s := range cfg.Channels {
		n += int64(s.HistorySize)
	}
	if len(cfg.OnDemand) > 0 {
		n += int64(cfg.OnDemandSettings.HistorySize) * int64(min(cfg.MaxOnDemandChannels, onDemandStreamShare))
	}
	n = max(n, int64(hub.DefaultHistorySize))
	// Room for a whole batch on top: XADD trims as it appends, so a batch
	// longer than the room left would trim its own first events before any
	// node's reader fetched them, and they would reach no subscriber.
	return n + int64(cfg.Limits.MaxBatch) + int64(cfg.SubscriberBuffer)
}

func (rc *RedisConfig) validate() error {
	for _, addr := range rc.Addresses {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("redis address %q: want host:port (%v)", addr, err)
		}
	}
	if rc.DB < 0 {
		return fmt.Errorf("redis db must not be negative")
	}
	if rc.MaxLen < 0 {
		return fmt.Errorf("redis max_len must not be negative")
	}
	return nil
}

// backendStateLogger logs the hub's view of Redis when it changes.
func backendStateLogger(logger *zap.Logger, hubName, key string) func(hub.BackendState) {
	return func(s hub.BackendState) {
		if s.Up {
			logger.Info("redis backend up", zap.String("hub", hubName), zap.String("stream", key))
			return
		}
		logger.Warn("redis backend unreachable: publishing fails with 503 until it is back; open streams stay open and resume from the last event read",
			zap.String("hub", hubName), zap.String("stream", key), zap.Error(s.Err), zap.Duration("retry_in", s.Retry))
	}
}
