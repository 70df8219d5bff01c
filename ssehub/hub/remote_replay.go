package hub

import (
	"context"
	"slices"
	"time"
)

// remoteReplay is what a subscriber replays from the backend because this
// node's logs do not reach back to its Last-Event-ID (another node served
// the client before, or this node started after the client's event).
//
// The boundary: the first Range call reads the events and the store's last
// ID in one snapshot, and through is that last ID (or the client's ID if
// newer). Every event up to through comes from the range; every event after
// it from the local logs, which the hub's single follower fills with every
// stored event in ID order. When the cursors are placed, events after
// through that the follower has applied already sit at or after
// firstAfter(through); those it applies later are appended behind the
// cursors; and events up to through that it applies later are skipped by
// the subscriber (skipThrough). So nothing is missed and nothing comes
// twice, whichever way the follower and the range read interleave.
type remoteReplay struct {
	events  []*Event
	through ID
	// gaps names the channels that lost events after the client's ID.
	gaps []string
	// unknown: the ID is newer than anything the store or this node has.
	unknown bool
}

// coversLocally reports whether this node's logs hold every event of the
// named channels after resume, so no backend read is needed.
func (h *Hub) coversLocally(resume ID, names []string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.publishMu.Lock()
	last, from := h.lastID, h.coveredFrom
	h.publishMu.Unlock()
	if from.IsZero() || resume.Less(from) || last.Less(resume) {
		return false
	}
	now := h.now()
	for _, name := range names {
		ch := h.channels[name]
		if ch == nil {
			return false
		}
		ch.mu.RLock()
		_, gap := ch.cursorAfter(resume, now)
		ch.mu.RUnlock()
		if gap {
			return false
		}
	}
	return true
}

// replayFromBackend reads what the named channels may replay after resume
// from the backend. names are sorted.
//
// The read is bounded by what the channels may replay, whatever the ID: it
// takes the newest events after resume, at most the sum of the channels'
// history_size, and none older than their history_max_age (when every
// channel has one), so an old ID such as 1-0 costs no more than a recent
// one. Events of other channels in that window count against the bound
// too: the stream is shared, and Redis cannot filter by channel. What lies
// between resume and the window is not read; if the store still holds or
// has dropped anything there, the client is told with an expired gap on
// each of its channels, as it cannot be told which of them lost events.
func (h *Hub) replayFromBackend(b Backend, names []string, resume ID) (*remoteReplay, error) {
	w := h.replayWindowOf(names)
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	unavailable := func(err error) error {
		return Errorf(ErrUnavailable, "hub %q: cannot read history from the event store (%v); try again later", h.name, err)
	}
	now := h.now()
	var notBefore ID
	if w.maxAge > 0 {
		notBefore = ID{Ms: uint64(max(now.Add(-w.maxAge).UnixMilli(), 0))}
	}
	p, err := b.Latest(ctx, resume, notBefore, w.keep)
	if err != nil {
		return nil, unavailable(err)
	}
	r := &remoteReplay{through: p.Last}
	if p.Last.Less(resume) {
		if h.lastAppliedID().Less(resume) {
			r.unknown = true
		}
		r.through = resume
		return r, nil
	}
	r.take(p.Events, w.settings, now)
	lost, err := lostBeforeWindow(ctx, b, p, resume, notBefore, w.keep)
	if err != nil {
		return nil, unavailable(err)
	}
	if lost {
		r.gapIn(names, w.settings)
	}
	return r, nil
}

// replayWindow is what a subscriber's channels may replay.
type replayWindow struct {
	settings map[string]ChannelSettings // by channel name
	keep     int                        // the sum of their history_size
	maxAge   time.Duration              // the oldest any of them replays; 0: no bound
}

// replayWindowOf sizes the replay of the named channels, from their
// settings (configured, or on-demand).
func (h *Hub) replayWindowOf(names []string) replayWindow {
	h.mu.RLock()
	defer h.mu.RUnlock()
	w := replayWindow{settings: make(map[string]ChannelSettings, len(names))}
	for i, name := range names {
		s, ok := h.cfg.Channels[name]
		if !ok {
			s = h.cfg.OnDemandSettings
		}
		w.settings[name] = s
		w.keep += s.HistorySize
		if i == 0 || w.maxAge > 0 && s.HistoryMaxAge > 0 {
			w.maxAge = max(w.maxAge, s.HistoryMaxAge)
		} else {
			w.maxAge = 0
		}
	}
	return w
}

// take keeps the events up to r.through that belong to the subscriber's
// channels (the keys of settings) and are not past their history age; a
// channel whose event was too old gets a gap.
func (r *remoteReplay) take(events []StoredEvent, settings map[string]ChannelSettings, now time.Time) {
	for _, se := range events {
		if r.through.Less(se.ID) {
			break
		}
		d := se.Draft
		var mine []string
		for _, name := range d.Channels {
			if s, ok := settings[name]; ok {
				if s.HistoryMaxAge > 0 && time.UnixMilli(int64(se.ID.Ms)).Before(now.Add(-s.HistoryMaxAge)) {
					r.gapIn([]string{name}, settings)
					continue
				}
				mine = append(mine, name)
			}
		}
		if len(mine) == 0 || d.Validate() != nil {
			continue
		}
		r.events = append(r.events, newEvent(d, se.ID, time.UnixMilli(int64(se.ID.Ms))))
	}
}

// gapIn records a gap on each of chans that is the subscriber's (a key of
// settings), once.
func (r *remoteReplay) gapIn(chans []string, settings map[string]ChannelSettings) {
	for _, name := range chans {
		if _, ok := settings[name]; ok && !slices.Contains(r.gaps, name) {
			r.gaps = append(r.gaps, name)
		}
	}
}

// lostBeforeWindow reports whether events after resume may be missing
// from page p: the part between resume and the window that was not read
// is not empty, or the store dropped events there.
func lostBeforeWindow(ctx context.Context, b Backend, p RangePage, resume, notBefore ID, keep int) (bool, error) {
	// below ends the part after resume that was not read: the window was
	// full, or stopped at the age bound.
	var below ID
	switch {
	case len(p.Events) >= keep && len(p.Events) > 0:
		below = p.Events[0].ID
	case keep == 0:
		below = ID{Ms: p.Last.Ms, Seq: p.Last.Seq + 1}
	case resume.Less(notBefore):
		below = notBefore
	}
	switch {
	case p.Trimmed && resume.Less(p.First):
		// Events between resume and the oldest one held may have been
		// trimmed; the store cannot tell, so say so.
		return true, nil
	case !resume.Less(below) || p.First.IsZero():
		// Everything after resume was read, or nothing is stored.
		return false, nil
	case resume.Less(p.First):
		// The oldest entry held is one that was not read.
		return p.First.Less(below), nil
	}
	return b.HoldsBetween(ctx, resume, below)
}
