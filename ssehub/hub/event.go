package hub

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// MaxEventTypeLength bounds the "event" field, so a typo'd payload cannot
// become a megabyte event type.
const MaxEventTypeLength = 256

// NoRetry marks a Draft or Event without a "retry:" field.
const NoRetry = -1

// Draft is an event as a publisher submits it: the hub assigns the ID.
type Draft struct {
	// Channels receive the event; a subscriber on several of them gets it once.
	Channels []string
	// Type is the "event:" field; empty means the client's default, "message".
	Type string
	// Data is any UTF-8 text; line breaks (CRLF, LF or lone CR) become
	// separate "data:" lines and arrive in the browser as LF.
	Data string
	// Retry is the "retry:" field in milliseconds, or NoRetry.
	Retry int64
}

// Validate checks the draft against the server-sent-events rules so that
// nothing that would be mangled on the wire is ever accepted.
func (d Draft) Validate() error {
	if len(d.Channels) == 0 {
		return Errorf(ErrInvalid, "no channel given")
	}
	seen := make(map[string]struct{}, len(d.Channels))
	for _, ch := range d.Channels {
		if err := ValidateChannelName(ch); err != nil {
			return err
		}
		if _, dup := seen[ch]; dup {
			return Errorf(ErrInvalid, "channel %q named twice", ch)
		}
		seen[ch] = struct{}{}
	}
	if err := validateEventType(d.Type); err != nil {
		return err
	}
	if !utf8.ValidString(d.Data) {
		return Errorf(ErrInvalid, "data is not valid UTF-8")
	}
	if d.Retry < NoRetry {
		return Errorf(ErrInvalid, "retry must be a non-negative number of milliseconds")
	}
	return nil
}

func validateEventType(t string) error {
	switch {
	case len(t) > MaxEventTypeLength:
		return Errorf(ErrInvalid, "event type is %d bytes, at most %d allowed", len(t), MaxEventTypeLength)
	case strings.ContainsAny(t, "\r\n"):
		return Errorf(ErrInvalid, "event type must not contain CR or LF")
	case !utf8.ValidString(t):
		return Errorf(ErrInvalid, "event type is not valid UTF-8")
	}
	return nil
}

// Event is a published event. It is immutable once published: every channel
// log and every subscriber shares the same *Event and its wire bytes. The
// data is kept only inside the encoded frame, so an event's payload is
// held once.
type Event struct {
	ID          ID
	Type        string
	Retry       int64
	Channels    []string
	PublishedAt time.Time

	// n numbers events in publish order within the hub; see Hub.readable.
	n uint64
	// held counts the channel logs holding the event; see historyBytes.
	held atomic.Int32

	wire []byte
}

// eventOverhead approximates what an event costs beside its frame: the
// struct, its channel names and its slots in the logs. It is counted
// against MaxHistoryBytes so that many tiny events are bounded too.
const eventOverhead = 256

// size is what the event counts against MaxHistoryBytes.
func (e *Event) size() int64 { return int64(len(e.wire)) + eventOverhead }

// Wire returns the event encoded as a server-sent-events frame, blank line
// included. The bytes are shared: never modify them.
func (e *Event) Wire() []byte { return e.wire }

// newEvent stamps a validated draft with its ID and encodes it once.
func newEvent(d Draft, id ID, now time.Time) *Event {
	e := &Event{
		ID:          id,
		Type:        d.Type,
		Retry:       d.Retry,
		Channels:    slices.Clone(d.Channels),
		PublishedAt: now,
	}
	idText := id.String()
	e.wire = appendFrame(make([]byte, 0, frameSize(idText, d.Type, d.Data, d.Retry)), idText, d.Type, d.Data, d.Retry)
	return e
}
