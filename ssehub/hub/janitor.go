package hub

import "time"

// runJanitor trims history by age, cuts slow consumers whose backlog
// stayed over the bound for the grace, and removes on-demand channels
// that have neither subscribers nor history left.
func (h *Hub) runJanitor(every time.Duration) {
	defer close(h.janitorDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stopJanitor:
			return
		case <-t.C:
			h.sweepRecovered()
		}
	}
}

// sweepRecovered runs Sweep, turning a panic into a report (ReportPanic):
// one failed pass must not take the process down, and the next tick tries
// again.
func (h *Hub) sweepRecovered() {
	defer func() {
		if v := recover(); v != nil {
			ReportPanic(PanicJanitor, v)
		}
	}()
	h.Sweep()
}

// Sweep runs one janitor pass now. It holds the hub lock only to list
// the channels and to remove idle ones, and each channel's lock only for
// that channel (for its subscribers, a chunk at a time), so publishing
// and subscribing go on during a pass.
func (h *Hub) Sweep() {
	h.sweepMu.Lock() // the janitor's backlog records are its own
	defer h.sweepMu.Unlock()
	now := h.now()
	h.mu.RLock()
	chans := make([]*channel, 0, len(h.channels))
	for _, ch := range h.channels {
		chans = append(chans, ch)
	}
	grace := h.cfg.slowConsumerGrace()
	h.mu.RUnlock()

	var idle []*channel
	for _, ch := range chans {
		ch.mu.Lock()
		if ch.closed { // removed since the list was taken
			ch.mu.Unlock()
			continue
		}
		ch.trim(now)
		empty := !ch.declared && len(ch.subs) == 0 && ch.log.len() == 0
		ch.mu.Unlock()
		if empty {
			idle = append(idle, ch)
			continue
		}
		h.judgeSubscribers(ch, now, grace)
	}

	h.mu.Lock()
	for _, ch := range idle {
		ch.mu.RLock()
		still := !ch.declared && len(ch.subs) == 0 && ch.log.len() == 0
		ch.mu.RUnlock()
		if still && h.channels[ch.name] == ch {
			h.removeLocked(ch)
		}
	}
	h.mu.Unlock()

	h.mu.RLock()
	h.publishMu.Lock()
	h.enforceHistoryBytes() // drops what trimming left dead
	h.publishMu.Unlock()
	h.mu.RUnlock()
}
