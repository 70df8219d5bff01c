package caddyfile

import (
	"encoding/json"

	caddyfile "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/ssehub/sse_hub/ssehub"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("sse_hub", parseGlobal)
}

// parseGlobal sets up the sse_hub app from the global option, which
// defines hubs that handlers then name with "hub <name>":
//
//	{
//		sse_hub {
//			hub <name> {
//				<hub options, as in the sse_hub directive>
//			}
//		}
//	}
//
// "hub" may repeat, once per name; its block may be left out, which gives
// the hub the default settings. The hub options are the directive's:
// channel, on_demand, the history, subscriber and publish limits, redis.
func parseGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(ssehub.App)
	if existing != nil {
		if err := json.Unmarshal(existing.(httpcaddyfile.App).Value, app); err != nil {
			return nil, err
		}
	}
	d.Next() // the option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "hub" {
			return nil, d.Errf("unrecognized sse_hub global option %q (want: hub <name> { ... })", d.Val())
		}
		var name string
		if err := oneArg(d, &name); err != nil {
			return nil, err
		}
		if _, dup := app.Hubs[name]; dup {
			return nil, d.Errf("hub %q defined twice", name)
		}
		cfg := new(ssehub.HubConfig)
		for inner := d.Nesting(); d.NextBlock(inner); {
			known, err := parseHubOption(d, cfg)
			if !known {
				return nil, d.Errf("unrecognized option %q in hub %q", d.Val(), name)
			}
			if err != nil {
				return nil, err
			}
		}
		if app.Hubs == nil {
			app.Hubs = make(map[string]*ssehub.HubConfig)
		}
		app.Hubs[name] = cfg
	}
	raw, err := json.Marshal(app)
	if err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "sse_hub", Value: raw}, nil
}
