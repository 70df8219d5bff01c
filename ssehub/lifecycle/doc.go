// Package lifecycle is the life of an event stream, described once for
// the two ways sse_hub writes one: through Caddy's response writer (the
// normal path: a goroutine per stream, blocking writes) and from the lean
// engine (parked connections written without blocking). The paths differ
// only in how bytes reach the socket; why a stream ends, when it beats,
// expires and drains, how much one write carries, and which frame closes
// it are decided here.
package lifecycle
