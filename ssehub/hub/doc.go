// Package hub is the server-sent-events core of sse_hub: named hubs of
// channels, event validation and one-time wire encoding, per-channel history
// with Last-Event-ID replay, and fan-out to subscribers.
//
// It knows nothing about Caddy or net/http so it can be read, tested and
// benchmarked alone; the ssehub package is the thin Caddy layer over it.
//
// How an event travels: Hub.Publish validates a Draft, assigns the next ID,
// encodes the event once (Event.Wire) and appends the same *Event to the log
// of every target channel, then wakes those channels' subscribers. A
// Subscriber never gets a copy: it holds a cursor into each channel's log and
// pulls the shared bytes when woken. Replay is the same thing with a cursor
// that starts in the past, so there is no replay/live boundary to get wrong.
//
// With a Backend (cluster mode, see backend.go) Publish stores the events
// in the backend instead, which assigns the IDs, and one follower goroutine
// per hub applies what the backend holds to the local logs (Apply) on every
// node, in ID order. A Last-Event-ID older than the local logs is replayed
// from the backend first (remote_replay.go), then from the logs.
package hub
