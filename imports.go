// Package ssehubplugin is the module root that xcaddy imports: it only pulls
// in the packages that register sse_hub's Caddy modules, directive and
// "caddy sse-hub" command.
package ssehubplugin

import (
	_ "github.com/ssehub/sse_hub/caddyfile"
	_ "github.com/ssehub/sse_hub/ssehub"
	_ "github.com/ssehub/sse_hub/ssehub/cli"
)
