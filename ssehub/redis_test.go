package ssehub

import (
	"testing"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

func TestRedisBackendConfig(t *testing.T) {
	t.Setenv("SSEHUB_TEST_REDIS_PASSWORD", "s3cret")
	declared := hub.Config{
		Channels:            map[string]hub.ChannelSettings{"a": {HistorySize: 5000}, "b": {HistorySize: 3000}},
		MaxOnDemandChannels: 1000,
		OnDemandSettings:    hub.ChannelSettings{HistorySize: 1000},
	}
	withOnDemand := declared
	withOnDemand.OnDemand = []string{"room-*"}
	small := hub.Config{OnDemand: []string{"*"}, MaxOnDemandChannels: 3, OnDemandSettings: hub.ChannelSettings{HistorySize: 10}}
	for _, c := range []struct {
		name       string
		rc         RedisConfig
		cfg        hub.Config
		addrs      []string
		prefix     string
		password   string
		wantMaxLen int64
	}{
		{"defaults, declared channels only", RedisConfig{}, declared, []string{"127.0.0.1:6379"}, "sse_hub:", "", 8000},
		{"on-demand allowance of 100 channels", RedisConfig{}, withOnDemand, []string{"127.0.0.1:6379"}, "sse_hub:", "", 8000 + 100*1000},
		{"at least the default history", RedisConfig{}, small, []string{"127.0.0.1:6379"}, "sse_hub:", "", 1000},
		{"explicit", RedisConfig{Addresses: []string{"r1:6379", "r2:6379"}, Prefix: "app:", Password: "{env.SSEHUB_TEST_REDIS_PASSWORD}", MaxLen: 42},
			declared, []string{"r1:6379", "r2:6379"}, "app:", "s3cret", 42},
	} {
		t.Run(c.name, func(t *testing.T) {
			bc := c.rc.backendConfig(c.cfg)
			if len(bc.Addrs) != len(c.addrs) || bc.Addrs[0] != c.addrs[0] || bc.Prefix != c.prefix || bc.Password != c.password || bc.MaxLen != c.wantMaxLen {
				t.Errorf("got %+v, want addrs %v prefix %q password %q max_len %d", bc, c.addrs, c.prefix, c.password, c.wantMaxLen)
			}
		})
	}
}

func TestRedisConfigValidate(t *testing.T) {
	for _, c := range []struct {
		rc RedisConfig
		ok bool
	}{
		{RedisConfig{}, true},
		{RedisConfig{Addresses: []string{"redis.internal:6379", "[::1]:6380"}}, true},
		{RedisConfig{Addresses: []string{"redis.internal"}}, false},
		{RedisConfig{DB: -1}, false},
		{RedisConfig{MaxLen: -5}, false},
	} {
		if err := c.rc.validate(); (err == nil) != c.ok {
			t.Errorf("%+v: validate() = %v, want ok=%v", c.rc, err, c.ok)
		}
	}
}
