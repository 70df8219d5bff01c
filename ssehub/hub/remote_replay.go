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

// replayFromBackend reads what the named channels hold after resume from
// the backend, bounded by their history settings. names are sorted.
func (h *Hub) replayFromBackend(b Backend, names []string, resume ID) (*remoteReplay, error) {
	h.mu.RLock()
	settings := make(map[string]ChannelSettings, len(names))
	keep := 0
	for _, name := range names {
		s, ok := h.cfg.Channels[name]
		if !ok {
			s = h.cfg.OnDemandSettings
		}
		settings[name] = s
		keep += s.HistorySize
	}
	h.mu.RUnlock()

	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	r := &remoteReplay{}
	gapIn := func(chans []string) {
		for _, name := range chans {
			if _, ok := settings[name]; ok && !slices.Contains(r.gaps, name) {
				r.gaps = append(r.gaps, name)
			}
		}
	}
	now := h.now()
	after := resume
	for page := 0; ; page++ {
		p, err := b.Range(ctx, after, rangePage)
		if err != nil {
			return nil, Errorf(ErrUnavailable, "hub %q: cannot read history from the event store (%v); try again later", h.name, err)
		}
		if page == 0 {
			r.through = p.Last
			if p.Last.Less(resume) {
				if h.lastPublishedID().Less(resume) {
					r.unknown = true
				}
				r.through = resume
				return r, nil
			}
		}
		// Events between after and the oldest one held may have been
		// trimmed; the store cannot tell, so say so.
		if p.Trimmed && after.Less(p.First) {
			gapIn(names)
		}
		for _, se := range p.Events {
			if r.through.Less(se.ID) {
				return r.trim(keep, gapIn), nil
			}
			after = se.ID
			d := se.Draft
			var mine []string
			for _, name := range d.Channels {
				if s, ok := settings[name]; ok {
					if s.HistoryMaxAge > 0 && time.UnixMilli(int64(se.ID.Ms)).Before(now.Add(-s.HistoryMaxAge)) {
						gapIn([]string{name})
						continue
					}
					mine = append(mine, name)
				}
			}
			if len(mine) == 0 || d.Validate() != nil {
				continue
			}
			r.events = append(r.events, newEvent(d, se.ID, time.UnixMilli(int64(se.ID.Ms))))
			if len(r.events) > 2*keep+rangePage {
				r.trim(keep, gapIn)
			}
		}
		if len(p.Events) < rangePage || !after.Less(r.through) {
			return r.trim(keep, gapIn), nil
		}
	}
}

// trim keeps the newest keep events (the history the subscribed channels
// are configured to hold) and reports the channels of those dropped.
func (r *remoteReplay) trim(keep int, gapIn func([]string)) *remoteReplay {
	if drop := len(r.events) - keep; drop > 0 {
		for _, e := range r.events[:drop] {
			gapIn(e.Channels)
		}
		r.events = slices.Delete(r.events, 0, drop)
	}
	return r
}
