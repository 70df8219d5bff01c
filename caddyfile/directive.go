package caddyfile

import (
	"strconv"

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
//		}
//		on_demand              <pattern>...
//		max_on_demand_channels <count>
//		history_size           <count>
//		history_max_age        <duration>
//		subscriber_buffer      <count>
//		channel_from           <template>...
//		channel_query          <param>
//		last_event_id_query    <param>
//		retry                  <duration>
//		heartbeat              <duration>
//	}
//
// "channel" may repeat, and its block may be left out. The top-level
// history options apply to on-demand channels.
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
		case "channel":
			err = parseChannel(d, h)
		case "on_demand":
			h.OnDemand, err = atLeastOneArg(d)
		case "max_on_demand_channels":
			err = countArg(d, &h.MaxOnDemandChannels)
		case "history_size":
			h.HistorySize = new(int)
			err = countArg(d, h.HistorySize)
		case "history_max_age":
			h.HistoryMaxAge = new(caddy.Duration)
			err = durationArg(d, h.HistoryMaxAge)
		case "subscriber_buffer":
			err = countArg(d, &h.SubscriberBuffer)
		case "channel_from":
			h.ChannelFrom, err = atLeastOneArg(d)
		case "channel_query":
			err = oneArg(d, &h.ChannelQuery)
		case "last_event_id_query":
			err = oneArg(d, &h.LastEventIDQuery)
		case "retry":
			err = durationArg(d, &h.Retry)
		case "heartbeat":
			err = durationArg(d, &h.Heartbeat)
		default:
			return d.Errf("unrecognized sse_hub option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseChannel(d *caddyfile.Dispenser, h *ssehub.Handler) error {
	var name string
	if err := oneArg(d, &name); err != nil {
		return err
	}
	if _, dup := h.Channels[name]; dup {
		return d.Errf("channel %q declared twice", name)
	}
	c := new(ssehub.ChannelConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "history_size":
			c.HistorySize = new(int)
			err = countArg(d, c.HistorySize)
		case "history_max_age":
			c.HistoryMaxAge = new(caddy.Duration)
			err = durationArg(d, c.HistoryMaxAge)
		default:
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

func countArg(d *caddyfile.Dispenser, dst *int) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return d.Errf("%s: %q is not a count (a whole number, 0 or more)", d.Val(), s)
	}
	*dst = n
	return nil
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
