package caddyfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/ssehub/sse_hub/ssehub"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("sse_hub_dashboard", parseDashboard)
	httpcaddyfile.RegisterDirectiveOrder("sse_hub_dashboard", httpcaddyfile.Before, "respond")
}

// parseDashboard sets up the dashboard page from Caddyfile tokens:
//
//	sse_hub_dashboard [<matcher>] {
//		hub           <name>
//		allow_publish <pattern>...
//	}
//
// The block may be left out. The page is served at the route, its
// figures stream at <route>/stats and its channel feed (and, with
// allow_publish, the publish form's target) at <route>/feed.
func parseDashboard(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	d := h.Dispenser
	dash := new(ssehub.Dashboard)
	d.Next() // the directive name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "hub":
			err = oneArg(d, &dash.Hub)
		case "allow_publish":
			err = appendArgs(d, &dash.AllowPublish)
		default:
			return nil, d.Errf("unrecognized sse_hub_dashboard option %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return dash, nil
}
