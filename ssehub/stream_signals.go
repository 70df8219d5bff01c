package ssehub

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// panicStreamSignal names a stream's signal callbacks in panic reports.
const panicStreamSignal = "stream_signal"

// streamSignals is what can end or change a stream besides its events:
// the client leaving, Caddy exiting, the config being unloaded, and the
// stream's timer (heartbeat, lifetime, drain moment). Each sets a flag and
// pokes the subscriber, so the stream waits on one channel, its wake.
//
// Why: the stream used to select over six channels, two of them (exiting,
// unloaded) shared by every stream. A select locks every channel it waits
// on and queues on each; with 5,000 HTTP/2 streams that was about 9% of
// the CPU (selectgo, lock2, sellock). A receive on one channel is a
// fraction of that, and the rare signals cost a callback when they happen.
type streamSignals struct {
	poke func()

	clientGone atomic.Bool
	exiting    atomic.Bool
	unloaded   atomic.Bool
	timerFired atomic.Bool

	stops []func() bool
	timer *time.Timer
}

// newStreamSignals watches the three contexts and starts the stream's
// timer (stopped until armed); poke wakes the stream.
func newStreamSignals(poke func(), client, exiting, config context.Context) *streamSignals {
	s := &streamSignals{poke: poke}
	s.stops = []func() bool{
		context.AfterFunc(client, s.raise(&s.clientGone)),
		context.AfterFunc(exiting, s.raise(&s.exiting)),
		context.AfterFunc(config, s.raise(&s.unloaded)),
	}
	s.timer = time.AfterFunc(time.Hour, s.raise(&s.timerFired))
	s.timer.Stop()
	return s
}

// raise returns the callback that sets flag and wakes the stream. It runs
// on a goroutine of its own (context.AfterFunc, time.AfterFunc), so it
// recovers a panic.
func (s *streamSignals) raise(flag *atomic.Bool) func() {
	return func() {
		defer func() {
			if v := recover(); v != nil {
				hub.ReportPanic(panicStreamSignal, v)
			}
		}()
		flag.Store(true)
		s.poke()
	}
}

// arm sets the timer for next, or stops it when next is zero.
func (s *streamSignals) arm(next time.Time) {
	if next.IsZero() {
		s.timer.Stop()
		return
	}
	s.timer.Reset(time.Until(next))
}

// stop releases the callbacks and the timer.
func (s *streamSignals) stop() {
	for _, stop := range s.stops {
		stop()
	}
	s.timer.Stop()
}
