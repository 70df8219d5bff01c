// Command example is Caddy with its standard modules plus sse_hub: the same
// binary xcaddy would build, for running the demo hub from a checkout.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/ssehub/sse_hub"
)

func main() {
	caddycmd.Main()
}
