package caddyfile

import (
	"math"
	"strconv"

	"github.com/dustin/go-humanize"

	"github.com/caddyserver/caddy/v2"
	caddyfile "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/ssehub/sse_hub/ssehub"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("sse_hub", parseDirective)
	// Before respond: after encode and the auth handlers, which then wrap
	// the stream, and with no "order" line needed in users' Caddyfiles.
	httpcaddyfile.RegisterDirectiveOrder("sse_hub", httpcaddyfile.Before, "respond")
}

// parseDirective sets up the handler from Caddyfile tokens:
//
//	sse_hub [<matcher>] {
//		hub                    <name>
//		channel                <name> {
//			history_size    <count>
//			history_max_age <duration>
//			slow_consumer   disconnect|latest
//		}
//		on_demand              <pattern>...
//		max_on_demand_channels <count>
//		history_size           <count>
//		history_max_age        <duration>
//		slow_consumer          disconnect|latest
//		subscriber_buffer      <count>
//		subscriber_buffer_bytes <size>
//		slow_consumer_grace    <duration>
//		max_history_bytes      <size>|unlimited
//		max_subscribers        <count>|unlimited
//		max_subscribers_per_channel <count>
//		max_subscribers_per_ip <count>|unlimited
//		max_channels_per_subscriber <count>
//		max_event_bytes        <size>
//		max_batch              <count>
//		max_publish_bytes      <size>
//		max_heap               <size>
//		write_timeout          <duration>
//		max_lifetime           <duration>
//		reload_drain           <duration>
//		allow_subscribe        <pattern>...
//		allow_publish          <pattern>...
//		cors_origins           <origin>...
//		channel_from           <template>...
//		channel_query          <param>
//		last_event_id_query    <param>
//		retry                  <duration>
//		heartbeat              <duration>
//		lean
//		redis [<address>...] {
//			address         <host:port>...
//			username        <name>
//			password        <password>
//			db              <number>
//			tls
//			prefix          <key prefix>
//			sentinel_master <name>
//			max_len         <count>
//		}
//	}
//
// "channel" may repeat, and its block may be left out; so may
// allow_subscribe, allow_publish and cors_origins, which add up. The top-level
// history and slow_consumer options apply to on-demand channels. Sizes
// take units (64KiB, 16MB); "unlimited" lifts a subscriber-count limit.
// "redis" puts the hub in cluster mode; addresses may follow the keyword
// or come in the block, and a bare "redis" uses 127.0.0.1:6379.
func parseDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(ssehub.Handler)
	return handler, unmarshal(h.Dispenser, handler)
}

func unmarshal(d *caddyfile.Dispenser, h *ssehub.Handler) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "hub":
			err = oneArg(d, &h.Hub)
		case "write_timeout":
			err = durationArg(d, &h.WriteTimeout)
		case "max_lifetime":
			err = durationArg(d, &h.MaxLifetime)
		case "reload_drain":
			h.ReloadDrain = new(caddy.Duration)
			err = durationArg(d, h.ReloadDrain)
		case "channel_from":
			h.ChannelFrom, err = atLeastOneArg(d)
		case "allow_subscribe":
			err = appendArgs(d, &h.AllowSubscribe)
		case "allow_publish":
			err = appendArgs(d, &h.AllowPublish)
		case "cors_origins":
			err = appendArgs(d, &h.CORSOrigins)
		case "channel_query":
			err = oneArg(d, &h.ChannelQuery)
		case "last_event_id_query":
			err = oneArg(d, &h.LastEventIDQuery)
		case "retry":
			err = durationArg(d, &h.Retry)
		case "heartbeat":
			err = durationArg(d, &h.Heartbeat)
		case "lean":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Lean = true
		default:
			var known bool
			if known, err = parseHubOption(d, &h.HubConfig); !known {
				return d.Errf("unrecognized sse_hub option %q", d.Val())
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseHubOption reads one hub option, where a handler block or a hub
// block of the global option is. It reports false for a name that is not
// a hub option.
func parseHubOption(d *caddyfile.Dispenser, c *ssehub.HubConfig) (bool, error) {
	var err error
	switch d.Val() {
	case "channel":
		err = parseChannel(d, c)
	case "on_demand":
		c.OnDemand, err = atLeastOneArg(d)
	case "max_on_demand_channels":
		err = countArg(d, &c.MaxOnDemandChannels)
	case "history_size", "history_max_age", "slow_consumer":
		_, err = parseChannelSetting(d, &c.HistorySize, &c.HistoryMaxAge, &c.SlowConsumer)
	case "subscriber_buffer":
		err = countArg(d, &c.SubscriberBuffer)
	case "subscriber_buffer_bytes":
		err = sizeArg(d, &c.SubscriberBufferBytes)
	case "slow_consumer_grace":
		c.SlowConsumerGrace = new(caddy.Duration)
		err = durationArg(d, c.SlowConsumerGrace)
	case "max_history_bytes":
		err = sizeOrUnlimitedArg(d, &c.MaxHistoryBytes)
	case "max_subscribers":
		err = limitArg(d, &c.MaxSubscribers)
	case "max_subscribers_per_channel":
		err = limitArg(d, &c.MaxSubscribersPerChannel)
	case "max_subscribers_per_ip":
		err = limitArg(d, &c.MaxSubscribersPerIP)
	case "max_channels_per_subscriber":
		err = countArg(d, &c.MaxChannelsPerSubscriber)
	case "max_event_bytes":
		err = sizeArg(d, &c.MaxEventBytes)
	case "max_batch":
		err = countArg(d, &c.MaxBatch)
	case "max_publish_bytes":
		err = sizeArg(d, &c.MaxPublishBytes)
	case "max_heap":
		err = sizeArg(d, &c.MaxHeapBytes)
	case "redis":
		err = parseRedis(d, c)
	default:
		return false, nil
	}
	return true, err
}

func parseChannel(d *caddyfile.Dispenser, h *ssehub.HubConfig) error {
	var name string
	if err := oneArg(d, &name); err != nil {
		return err
	}
	if _, dup := h.Channels[name]; dup {
		return d.Errf("channel %q declared twice", name)
	}
	c := new(ssehub.ChannelConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		known, err := parseChannelSetting(d, &c.HistorySize, &c.HistoryMaxAge, &c.SlowConsumer)
		if !known {
			return d.Errf("unrecognized option %q in channel %q", d.Val(), name)
		}
		if err != nil {
			return err
		}
	}
	if h.Channels == nil {
		h.Channels = make(map[string]*ssehub.ChannelConfig)
	}
	h.Channels[name] = c
	return nil
}

// parseChannelSetting reads one history or slow-consumer option, the same
// for a declared channel's block and for on-demand channels; it reports
// false for any other name.
func parseChannelSetting(d *caddyfile.Dispenser, size **int, maxAge **caddy.Duration, slow *string) (bool, error) {
	switch d.Val() {
	case "history_size":
		*size = new(int)
		return true, countArg(d, *size)
	case "history_max_age":
		*maxAge = new(caddy.Duration)
		return true, durationArg(d, *maxAge)
	case "slow_consumer":
		return true, oneArg(d, slow)
	}
	return false, nil
}

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func atLeastOneArg(d *caddyfile.Dispenser) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return args, nil
}

// appendArgs adds one or more arguments to a list option that may repeat.
func appendArgs(d *caddyfile.Dispenser, dst *[]string) error {
	args, err := atLeastOneArg(d)
	*dst = append(*dst, args...)
	return err
}

func countArg(d *caddyfile.Dispenser, dst *int) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	return parseCount(d, s, dst)
}

func parseCount(d *caddyfile.Dispenser, s string, dst *int) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return d.Errf("%q is not a count (a whole number, 0 or more)", s)
	}
	*dst = n
	return nil
}

// limitArg reads a subscriber-count limit: a count, or "unlimited" (-1).
func limitArg(d *caddyfile.Dispenser, dst *int) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	if s == "unlimited" {
		*dst = -1
		return nil
	}
	return parseCount(d, s, dst)
}

// sizeArg reads a byte size with optional units (64KiB, 16MB).
func sizeArg[T int | int64](d *caddyfile.Dispenser, dst *T) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n > math.MaxInt32*1024 {
		return d.Errf("%q is not a size (like 512KiB or 16MB)", s)
	}
	*dst = T(n)
	return nil
}

// sizeOrUnlimitedArg reads a byte size, or "unlimited" (-1).
func sizeOrUnlimitedArg(d *caddyfile.Dispenser, dst *int64) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	if d.Val() == "unlimited" {
		if d.NextArg() {
			return d.ArgErr()
		}
		*dst = -1
		return nil
	}
	d.Prev()
	return sizeArg(d, dst)
}

func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%q is not a duration (like 30s or 1h): %v", s, err)
	}
	*dst = caddy.Duration(dur)
	return nil
}

func parseRedis(d *caddyfile.Dispenser, h *ssehub.HubConfig) error {
	if h.Redis != nil {
		return d.Err("redis set twice")
	}
	rc := &ssehub.RedisConfig{Addresses: d.RemainingArgs()}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "address":
			var addrs []string
			addrs, err = atLeastOneArg(d)
			rc.Addresses = append(rc.Addresses, addrs...)
		case "username":
			err = oneArg(d, &rc.Username)
		case "password":
			err = oneArg(d, &rc.Password)
		case "db":
			err = countArg(d, &rc.DB)
		case "tls":
			if d.NextArg() {
				return d.ArgErr()
			}
			rc.TLS = true
		case "prefix":
			err = oneArg(d, &rc.Prefix)
		case "sentinel_master":
			err = oneArg(d, &rc.SentinelMaster)
		case "max_len":
			var n int
			err = countArg(d, &n)
			rc.MaxLen = int64(n)
		default:
			return d.Errf("unrecognized option %q in redis", d.Val())
		}
		if err != nil {
			return err
		}
	}
	h.Redis = rc
	return nil
}
