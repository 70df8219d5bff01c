package hub

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ID identifies an event within a hub. It has the shape of a Redis stream ID,
// "<unix-ms>-<seq>": strictly increasing per hub, and, because the
// millisecond part follows the wall clock, unique across reloads and process
// restarts as long as the clock does not step back past the last ID issued.
type ID struct {
	Ms  uint64
	Seq uint64
}

// maxIDLength bounds what ParseID reads: two uint64 values and a dash.
const maxIDLength = 20 + 1 + 20

// String returns the wire form sent in the "id:" field.
func (id ID) String() string {
	b := make([]byte, 0, maxIDLength)
	b = strconv.AppendUint(b, id.Ms, 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, id.Seq, 10)
	return string(b)
}

// IsZero reports whether id is the zero ID, which no event carries.
func (id ID) IsZero() bool { return id == ID{} }

// Less reports whether id sorts before other.
func (id ID) Less(other ID) bool {
	if id.Ms != other.Ms {
		return id.Ms < other.Ms
	}
	return id.Seq < other.Seq
}

// errMalformedID is returned by ParseID; its text is shown to clients.
var errMalformedID = errors.New(`malformed event ID: expected "<digits>-<digits>" as sent by this hub`)

// ParseID parses the wire form of an ID, strictly: decimal digits, one dash,
// decimal digits, nothing else.
func ParseID(s string) (ID, error) {
	if len(s) > maxIDLength {
		return ID{}, errMalformedID
	}
	msText, seqText, ok := strings.Cut(s, "-")
	if !ok || !allDigits(msText) || !allDigits(seqText) {
		return ID{}, errMalformedID
	}
	ms, err1 := strconv.ParseUint(msText, 10, 64)
	seq, err2 := strconv.ParseUint(seqText, 10, 64)
	if err1 != nil || err2 != nil {
		return ID{}, errMalformedID
	}
	return ID{Ms: ms, Seq: seq}, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// nextID returns the ID that follows last at time now: the Redis stream rule,
// so IDs never go backwards even when the clock does within a process.
func nextID(last ID, now time.Time) ID {
	ms := uint64(now.UnixMilli())
	if ms > last.Ms {
		return ID{Ms: ms}
	}
	return ID{Ms: last.Ms, Seq: last.Seq + 1}
}
