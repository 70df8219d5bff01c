// Package hub is the server-sent-events core of sse_hub: named hubs of
// channels, event validation and one-time wire encoding, per-channel history
// with Last-Event-ID replay, and fan-out to subscribers.
//
// It knows nothing about Caddy or net/http so it can be read, tested and
// benchmarked alone; the ssehub package is the thin Caddy layer over it.
//
// How an event travels: Hub.Publish (publish.go) validates a Draft, assigns
// the next ID, encodes the event once (Event.Wire, encode.go) and appends
// the same *Event to the log (history.go) of every target channel, then
// wakes those channels' subscribers. A Subscriber never gets a copy: it
// holds a cursor into each channel's log, placed by Hub.Subscribe
// (subscribe.go), and pulls the shared bytes when woken (Subscriber.Next,
// read.go). Replay is the same thing with a cursor that starts in the past,
// so there is no replay/live boundary to get wrong.
//
// The rest: hub.go holds the Hub and its lifecycle, configure.go the
// channel layout (declared and on-demand channels), limits.go the
// subscriber counts, slow.go the slow-consumer rule, janitor.go the
// once-a-second pass that applies it and trims history, info.go and
// stats.go what the admin API and metrics read.
//
// With a Backend (cluster mode, backend.go) Publish stores the events in
// the backend instead, which assigns the IDs, and one follower goroutine
// per hub applies what the backend holds to the local logs (Apply,
// follower.go) on every node, in ID order. A Last-Event-ID older than the
// local logs is replayed from the backend first (remote_replay.go), then
// from the logs.
package hub
