// Package integration runs sse_hub inside a real Caddy, loaded from
// Caddyfiles through the admin endpoint on loopback ports, and talks HTTP
// to it as EventSource clients and publishers do. It is the only package
// that starts Caddy: Caddy is one per process.
package integration
