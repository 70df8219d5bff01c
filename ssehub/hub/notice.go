package hub

import "encoding/json"

// Event types the hub sends on its own; documented in the README.
const (
	GapEvent    = "sse_hub.gap"
	ClosedEvent = "sse_hub.closed"
)

// Gap reasons, sent in the data of the GapEvent.
const (
	// GapExpired: some events after the client's Last-Event-ID are no
	// longer in history (pushed out by size or age, or lost in a restart).
	// Replay continues with the oldest event history still holds.
	GapExpired = "expired"
	// GapUnknownID: the Last-Event-ID was not issued by this hub (malformed,
	// or newer than anything published). The stream continues live.
	GapUnknownID = "unknown_id"
	// GapSkipped: the subscriber fell behind on a channel with the Latest
	// policy; the backlog was dropped and the stream goes on with the
	// newest event.
	GapSkipped = "skipped"
)

// appendNotice encodes one of the hub's own events. It carries no id, so
// the client's Last-Event-ID stays on the last real event it received.
func appendNotice(b []byte, event, channel, reason, lastEventID string) []byte {
	data, _ := json.Marshal(struct {
		Channel     string `json:"channel"`
		Reason      string `json:"reason,omitempty"`
		LastEventID string `json:"last_event_id,omitempty"`
	}{channel, reason, truncate(lastEventID)})
	return appendFrame(b, "", event, string(data), NoRetry)
}
