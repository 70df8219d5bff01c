package lifecycle

import (
	"math/rand/v2"
	"time"
)

// Schedule is when a stream's timed actions fall due: its heartbeat, its
// lifetime and, once its config is unloaded, its drain. Times are unix
// nanoseconds; zero means never. The normal path arms one timer for Next;
// the lean engine's ticker asks every connection's Due.
type Schedule struct {
	heartbeat int64 // interval; 0 sends none
	nextBeat  int64
	expires   int64
	drainAt   int64
}

// Due is a set of actions that fell due.
type Due uint8

// Timed actions.
const (
	// DueHeartbeat: send a heartbeat comment.
	DueHeartbeat Due = 1 << iota
	// DueLifetime: the stream reached its lifetime.
	DueLifetime
	// DueDrain: the stream's moment in the reload drain window came.
	DueDrain
)

// NewSchedule starts a stream's schedule at now: heartbeats every
// heartbeat, and with maxLifetime an end after maxLifetime less up to 10%,
// so streams opened together do not all end together.
func NewSchedule(now time.Time, heartbeat, maxLifetime time.Duration) Schedule {
	t := now.UnixNano()
	s := Schedule{heartbeat: int64(heartbeat)}
	if heartbeat > 0 {
		s.nextBeat = t + int64(heartbeat)
	}
	if maxLifetime > 0 {
		s.expires = t + int64(maxLifetime-Jitter(maxLifetime/10))
	}
	return s
}

// Drain sets the stream's drain moment at a random point within window
// from now, so a reload's clients do not all reconnect at once. A moment
// already set is kept.
func (s *Schedule) Drain(now time.Time, window time.Duration) {
	if s.drainAt == 0 {
		s.drainAt = now.UnixNano() + int64(Jitter(window))
	}
}

// Due returns what fell due by now, and moves the heartbeat on.
func (s *Schedule) Due(now time.Time) Due {
	t := now.UnixNano()
	var d Due
	if s.nextBeat != 0 && t >= s.nextBeat {
		d |= DueHeartbeat
		s.nextBeat = t + s.heartbeat
	}
	if s.expires != 0 && t >= s.expires {
		d |= DueLifetime
	}
	if s.drainAt != 0 && t >= s.drainAt {
		d |= DueDrain
	}
	return d
}

// Next is when the next action falls due, or the zero time for never.
func (s Schedule) Next() time.Time {
	var next int64
	for _, t := range []int64{s.nextBeat, s.expires, s.drainAt} {
		if t != 0 && (next == 0 || t < next) {
			next = t
		}
	}
	if next == 0 {
		return time.Time{}
	}
	return time.Unix(0, next)
}

// Ends reports whether d ends the stream, and why: a drain before a
// lifetime (the same "retry:" hint closes both).
func (d Due) Ends() (EndReason, bool) {
	switch {
	case d&DueDrain != 0:
		return ReloadDrain, true
	case d&DueLifetime != 0:
		return MaxLifetime, true
	}
	return "", false
}

// Jitter returns a random duration in [0, d).
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}
