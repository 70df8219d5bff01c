// Package caddyfile registers the sse_hub Caddyfile directive and turns its
// tokens into the http.handlers.sse_hub JSON config, and nothing else.
package caddyfile
