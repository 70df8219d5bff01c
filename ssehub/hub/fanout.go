package hub

import (
	"runtime"
	"sync"
)

// wakeSlice is how many subscribers are woken before the waker yields.
const wakeSlice = 128

// fanout wakes the subscribers of crowded channels from a goroutine of the
// hub's own, wakeSlice at a time, yielding between slices.
//
// Woken from the publishing goroutine, every stream goroutine of a
// channel became runnable at once: with 10,000 streams Go's run queue held
// 10,000 goroutines, and a goroutine the network readied next (the next
// publish request) waited behind all of them, 140 ms at the median on a
// 2-core machine. A slice at a time, the run queue stays short, the
// publish answers at once, and events published meanwhile are found by
// the streams still to run and written together. Channels with at most
// wakeSlice such goroutines are woken inline, as before, and so are
// callback subscribers (the lean engine's), which only queue work.
type fanout struct {
	mu      sync.Mutex
	pending map[*channel]struct{}
	kick    chan struct{} // capacity 1: a pass is due
	stop    chan struct{}
	done    chan struct{}
}

func newFanout() *fanout {
	return &fanout{
		pending: make(map[*channel]struct{}),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// request asks for a wake of ch's subscribers; requests for a channel
// still waiting for its pass are one.
func (f *fanout) request(ch *channel) {
	f.mu.Lock()
	f.pending[ch] = struct{}{}
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// run serves requests until close; a panic (a bug) is reported and the
// loop goes on, so subscribers keep being woken.
func (f *fanout) run() {
	defer close(f.done)
	var subs []*Subscriber
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
		}
		subs = f.passRecovering(subs)
	}
}

// passRecovering wakes the subscribers of every pending channel. A panic
// (a bug) is reported, and the channels after the one it happened on are
// asked for again, so they are not left asleep.
func (f *fanout) passRecovering(subs []*Subscriber) []*Subscriber {
	f.mu.Lock()
	chans := make([]*channel, 0, len(f.pending))
	for ch := range f.pending {
		chans = append(chans, ch)
	}
	clear(f.pending)
	f.mu.Unlock()
	done := 0
	defer func() {
		if v := recover(); v != nil {
			ReportPanic(PanicFanout, v)
			for _, ch := range chans[done+1:] {
				f.request(ch)
			}
		}
	}()
	for _, ch := range chans {
		subs = ch.appendSubscribers(subs[:0])
		woken := 0
		for _, s := range subs {
			s.notify()
			if s.notifyFn == nil {
				if woken++; woken%wakeSlice == 0 {
					runtime.Gosched()
				}
			}
		}
		clear(subs) // let ended subscribers go
		done++
	}
	return subs[:0]
}

func (f *fanout) close() {
	close(f.stop)
	<-f.done
}
