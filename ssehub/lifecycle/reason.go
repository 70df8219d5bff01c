package lifecycle

// EndReason says why a stream ended. It is the "reason" of the "stream
// closed" log line and the reason label of
// caddy_sse_hub_streams_closed_total, the same set on both paths.
type EndReason string

// The reasons a stream ends, and what the client gets last.
const (
	// ClientGone: the client closed the connection. Nothing more is sent.
	ClientGone EndReason = "client_gone"
	// WriteError: a write failed, or took longer than write_timeout.
	WriteError EndReason = "write_error"
	// SlowConsumer: the hub found the subscriber slow (see the README's
	// "Slow consumers"); what was already taken goes out, then the stream
	// ends and the client resumes with Last-Event-ID.
	SlowConsumer EndReason = "slow_consumer"
	// ClosedByHub: the hub ended the subscription. A closed channel's
	// subscribers get sse_hub.closed last; a hub that shut down sends
	// nothing more (the client reconnects).
	ClosedByHub EndReason = "closed_by_hub"
	// Shutdown: Caddy is exiting; the stream ends at once.
	Shutdown EndReason = "shutdown"
	// ReloadDrain: the stream's config was unloaded; it ended at a random
	// moment within reload_drain, after a "retry:" hint.
	ReloadDrain EndReason = "reload_drain"
	// MaxLifetime: the stream reached max_lifetime (less its jitter),
	// after a "retry:" hint.
	MaxLifetime EndReason = "max_lifetime"
	// InternalError: a panic was recovered while serving the stream (lean
	// path); only that stream ended.
	InternalError EndReason = "internal_error"
)

// EndReasons lists every reason, for metrics and tests.
var EndReasons = []EndReason{ClientGone, WriteError, SlowConsumer, ClosedByHub, Shutdown, ReloadDrain, MaxLifetime, InternalError}
