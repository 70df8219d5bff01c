// Package cli registers the "caddy sse-hub" command: publish events, list
// channels and close them through the running Caddy's admin endpoint, which
// it finds the way "caddy stop" and "caddy reload" do. The HTTP work is done
// by package client, so the CLI and applications publish the same way.
package cli
