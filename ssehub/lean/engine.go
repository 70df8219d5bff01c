package lean

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// nextConnID numbers connections across engines, so an ID in an epoll
// event can never name another engine's connection.
var nextConnID atomic.Uint64

// tick is how often the ticker looks at every connection: the resolution
// of heartbeats, lifetimes, write timeouts and the drain.
const tick = 100 * time.Millisecond

// Settings are the stream options that apply to every lean connection.
type Settings struct {
	// Heartbeat is the interval of ": heartbeat" comments.
	Heartbeat time.Duration
	// WriteTimeout is how long a socket may stay too full to take the
	// next bytes before the connection is dropped.
	WriteTimeout time.Duration
	// Retry is the "retry:" frame written before a drain or lifetime close.
	Retry []byte
}

// Engine holds the lean connections of one handler: a few workers that
// write, a ticker for time-driven work, and a poller for closed peers.
// Its goroutines start with the first connection and stop once the engine
// is drained or shut down and its last connection has closed.
type Engine struct {
	settings Settings
	workers  []*worker
	poller   *poller // nil where the platform has none

	next  atomic.Uint64 // round-robin over workers
	start sync.Once
	stop  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	conns    []*Conn
	closing  bool          // Drain or Shutdown was called
	shutdown bool          // Shutdown was called
	window   time.Duration // the drain window
	stopped  bool
	empty    chan struct{} // closed when closing and no connection is left
}

// NewEngine returns an engine; it starts nothing until the first Adopt.
//
// It has one worker per CPU but one: shared workers never block, so under a
// heavy fan-out they keep their CPUs busy, and Go's scheduler then looks
// for network events only every 10ms. The CPU left over keeps publish
// requests and new subscribers answered within a few milliseconds
// (measured: publish request p50 25ms with two workers on two CPUs, 2.8ms
// with one, which also delivered more).
func NewEngine(s Settings) *Engine {
	e := &Engine{settings: s, stop: make(chan struct{}), empty: make(chan struct{})}
	for range max(1, runtime.GOMAXPROCS(0)-1) {
		e.workers = append(e.workers, newWorker(s.Retry, lifecycle.BufferSize))
	}
	return e
}

// Prepare returns a connection to subscribe with (pass its Notify to
// hub.SubscribeRequest), or nil if the engine is closing and the request
// should take the normal path.
func (e *Engine) Prepare() *Conn {
	e.mu.Lock()
	closing := e.closing
	e.mu.Unlock()
	if closing {
		return nil
	}
	w := e.workers[e.next.Add(1)%uint64(len(e.workers))]
	c := &Conn{engine: e, id: nextConnID.Add(1), worker: w}
	c.queued.Store(true) // wakes before Adopt are covered by Adopt's own
	return c
}

// Adopt parks nc, a hijacked connection, with its subscription. head is
// written first (the response head and the retry hint); maxLifetime, if
// positive, ends the stream as lifecycle.NewSchedule says; onClose gets
// the reason the stream ended. From here on the engine owns nc and sub.
func (e *Engine) Adopt(c *Conn, nc net.Conn, sub *hub.Subscriber, head []byte, maxLifetime time.Duration, onClose func(reason lifecycle.EndReason)) {
	c.nc, c.sub, c.onClose = nc, sub, onClose
	c.pending = head
	sock := nc
	if tc, beneath := tlsConnOf(nc); tc != nil {
		c.tls, sock = tc, beneath
	}
	if sc := socketOf(sock); sc != nil && Supported {
		c.raw, _ = sc.SyscallConn()
	}
	_ = nc.SetDeadline(time.Time{}) // net/http's deadlines do not apply any more
	e.start.Do(e.run)

	now := time.Now()
	c.schedule = lifecycle.NewSchedule(now, e.settings.Heartbeat, maxLifetime)
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		e.closeUnparked(c)
		return
	}
	if e.poller != nil && c.raw != nil {
		// Under the lock: the ticker reads polled, and a stopped engine's
		// epoll fd is closed. Events before Adopt's end wait for queued.
		c.polled = e.poller.add(c)
	}
	c.slot = len(e.conns)
	e.conns = append(e.conns, c)
	if e.closing {
		c.schedule.Drain(now, e.window)
	}
	shutdown := e.shutdown
	e.mu.Unlock()
	// The engine cannot stop now until c is removed, so its WaitGroup is
	// still counting.
	if c.raw == nil {
		// Its writes block, so it must not share a worker.
		c.worker, c.quit = newWorker(e.settings.Retry, 0), make(chan struct{})
		e.wg.Go(func() { c.worker.run(e.stop, c.quit) })
	}
	c.queued.Store(false)
	if shutdown {
		c.request(flagShutdown)
		return
	}
	c.Notify()
}

// closeUnparked ends a connection that arrived after the engine stopped:
// it gets its head and a retry hint, written with a deadline, and closes.
func (e *Engine) closeUnparked(c *Conn) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(append(c.pending, e.settings.Retry...))
	_ = c.nc.Close()
	c.sub.Close()
	if c.onClose != nil {
		c.onClose(lifecycle.ReloadDrain)
	}
}

// Len is the number of open lean connections.
func (e *Engine) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}

// Drain closes every connection at a random moment within window, each
// after a retry hint, so clients do not all reconnect at once. Streams
// keep receiving events until then. Connections adopted later are drained
// the same way.
func (e *Engine) Drain(window time.Duration) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return
	}
	e.closing, e.window = true, window
	for _, c := range e.conns {
		c.schedule.Drain(now, window)
	}
	e.stopIfEmptyLocked()
}

// Shutdown closes every connection now and waits, at most timeout, until
// they are closed.
func (e *Engine) Shutdown(timeout time.Duration) {
	e.mu.Lock()
	e.closing, e.shutdown = true, true
	conns := append([]*Conn(nil), e.conns...)
	e.stopIfEmptyLocked()
	e.mu.Unlock()
	for _, c := range conns {
		c.request(flagShutdown)
	}
	select {
	case <-e.empty:
	case <-time.After(timeout):
	}
}

// forget takes a closed connection out of the engine.
func (e *Engine) forget(c *Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	last := len(e.conns) - 1
	e.conns[c.slot] = e.conns[last]
	e.conns[c.slot].slot = c.slot
	e.conns[last] = nil
	e.conns = e.conns[:last]
	e.stopIfEmptyLocked()
}

func (e *Engine) stopIfEmptyLocked() {
	if e.closing && len(e.conns) == 0 && !e.stopped {
		e.stopped = true
		close(e.stop)
		close(e.empty)
	}
}

// Wait blocks until the engine's goroutines have stopped.
func (e *Engine) Wait() { e.wg.Wait() }

// run starts the engine's goroutines.
func (e *Engine) run() {
	if p, err := newPoller(); err == nil {
		e.poller = p
		e.wg.Go(func() { p.run(e.stop) })
	}
	for _, w := range e.workers {
		e.wg.Go(func() { w.run(e.stop, nil) })
	}
	e.wg.Go(e.tickLoop)
}

func (e *Engine) tickLoop() {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			// A panic skips one tick's work; the next tick redoes it.
			recovering(PanicTicker, func() { e.tickOnce(time.Now()) })
		case <-e.stop:
			return
		}
	}
}

// tickOnce asks each connection for whatever time has made due.
func (e *Engine) tickOnce(now time.Time) {
	timeout := int64(e.settings.WriteTimeout)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		var f uint32
		due := c.schedule.Due(now)
		if due&lifecycle.DueHeartbeat != 0 {
			f |= flagHeartbeat
		}
		if due&lifecycle.DueLifetime != 0 {
			f |= flagLifetime
		}
		if due&lifecycle.DueDrain != 0 {
			f |= flagDrain
		}
		if b := c.blockedSince.Load(); b != 0 {
			if now.UnixNano()-b > timeout {
				f |= flagTimeout
			} else if !c.polled || c.tls != nil {
				// No writability events (a TLS write never fills the
				// socket, so none comes): retry every tick.
				c.Notify()
			}
		}
		if f != 0 {
			c.request(f)
		}
	}
}
