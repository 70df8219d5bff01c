package ssehub

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// woke is what a stream woke up for.
type woke int

const (
	wokeEvents woke = iota // events may be available (or nothing: a spurious wake)
	wokeTimer              // the schedule's next moment may have come
	wokeClosed             // the hub ended the subscription
	wokeClientGone
	wokeExiting
	wokeUnloaded // the config was unloaded: the drain begins
)

// streamWaiter is how a stream waits between writes, with one timer for
// whatever its schedule has next.
//
// Two ways, measured (5,000 HTTP/2 streams at 5 events/s; 10,000 plain
// HTTP/1.1 streams at 50 events/s, five alternating runs each):
//   - selectWaiter selects over the wake, the timer, the end of the
//     subscription, the request's context, Caddy exiting and the config
//     unloading. On HTTP/2 a select over six channels, two of them shared
//     by every stream, costs 28.1-29.4 µs per delivery.
//   - signalWaiter receives from the wake alone; the rest set a flag and
//     poke it through callbacks. On HTTP/2: 22.9-24.9 µs. On HTTP/1.1 with
//     10,000 streams it let the publisher get only 32.8-49.5 of 50 events/s
//     accepted (select: 48.9-50.0), for reasons the profile did not show.
//
// So HTTP/2 and HTTP/3 streams use signalWaiter, HTTP/1 streams
// selectWaiter.
type streamWaiter interface {
	wait() woke
	arm(next time.Time) // the timer fires at next; zero stops it
	stop()
}

// newStreamWaiter returns the waiter for a stream of the given protocol.
func newStreamWaiter(protoMajor int, sub *hub.Subscriber, client, exiting, config context.Context) streamWaiter {
	if protoMajor >= 2 {
		return newSignalWaiter(sub, client, exiting, config)
	}
	return newSelectWaiter(sub, client, exiting, config)
}

// selectWaiter waits in a select over every channel.
type selectWaiter struct {
	sub                       *hub.Subscriber
	client, exiting, unloaded <-chan struct{}
	timer                     *time.Timer
}

func newSelectWaiter(sub *hub.Subscriber, client, exiting, config context.Context) *selectWaiter {
	w := &selectWaiter{sub: sub, client: client.Done(), exiting: exiting.Done(), unloaded: config.Done(), timer: time.NewTimer(time.Hour)}
	w.timer.Stop()
	return w
}

func (w *selectWaiter) wait() woke {
	select {
	case <-w.sub.Wake():
		return wokeEvents
	case <-w.timer.C:
		return wokeTimer
	case <-w.sub.Done():
		return wokeClosed
	case <-w.client:
		return wokeClientGone
	case <-w.exiting:
		return wokeExiting
	case <-w.unloaded:
		w.unloaded = nil // once
		return wokeUnloaded
	}
}

func (w *selectWaiter) arm(next time.Time) {
	if next.IsZero() {
		w.timer.Stop()
		return
	}
	w.timer.Reset(time.Until(next))
}

func (w *selectWaiter) stop() { w.timer.Stop() }

// panicStreamSignal names a stream's signal callbacks in panic reports.
const panicStreamSignal = "stream_signal"

// signalWaiter waits on the subscriber's wake alone: the client leaving,
// Caddy exiting, the config unloading and the timer each set a flag and
// poke the subscriber. A spurious wake is harmless.
type signalWaiter struct {
	sub *hub.Subscriber

	clientGone atomic.Bool
	exiting    atomic.Bool
	unloaded   atomic.Bool
	timerFired atomic.Bool

	stops [3]func() bool
	timer *time.Timer
}

func newSignalWaiter(sub *hub.Subscriber, client, exiting, config context.Context) *signalWaiter {
	w := &signalWaiter{sub: sub}
	w.stops = [3]func() bool{
		context.AfterFunc(client, w.raise(&w.clientGone)),
		context.AfterFunc(exiting, w.raise(&w.exiting)),
		context.AfterFunc(config, w.raise(&w.unloaded)),
	}
	w.timer = time.AfterFunc(time.Hour, w.raise(&w.timerFired))
	w.timer.Stop()
	return w
}

// raise returns the callback that sets flag and pokes the stream. It runs
// on a goroutine of its own (context.AfterFunc, time.AfterFunc), so it
// recovers a panic.
func (w *signalWaiter) raise(flag *atomic.Bool) func() {
	return func() {
		defer func() {
			if v := recover(); v != nil {
				hub.ReportPanic(panicStreamSignal, v)
			}
		}()
		flag.Store(true)
		w.sub.Poke()
	}
}

// wait reports a signal raised since the last call, or else waits for
// the wake and reports what raised it (events, if no flag).
func (w *signalWaiter) wait() woke {
	if why, ok := w.raised(); ok {
		return why
	}
	<-w.sub.Wake()
	if why, ok := w.raised(); ok {
		return why
	}
	return wokeEvents
}

// raised reports the most pressing signal raised, clearing the one-shot
// ones.
func (w *signalWaiter) raised() (woke, bool) {
	select {
	case <-w.sub.Done():
		return wokeClosed, true
	default:
	}
	switch {
	case w.clientGone.Load():
		return wokeClientGone, true
	case w.exiting.Load():
		return wokeExiting, true
	case w.unloaded.Swap(false):
		return wokeUnloaded, true
	case w.timerFired.Swap(false):
		return wokeTimer, true
	}
	return wokeEvents, false
}

func (w *signalWaiter) arm(next time.Time) {
	if next.IsZero() {
		w.timer.Stop()
		return
	}
	w.timer.Reset(time.Until(next))
}

func (w *signalWaiter) stop() {
	for _, stop := range w.stops {
		stop()
	}
	w.timer.Stop()
}
