package lean

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// yieldEvery is how many connections a worker serves before letting other
// goroutines run.
const yieldEvery = 64

// worker serves the connections assigned to it, one at a time, so a
// connection is never written by two goroutines. Shared workers' writes
// never block
// (see writeSome), so a few workers serve any number of connections.
type worker struct {
	mu     sync.Mutex
	queue  []*Conn
	spare  []*Conn
	signal chan struct{}
	buf    []byte
	raw    *rawWriter
	retry  []byte // the "retry:" hint written before an ordered close
}

// newWorker returns a worker whose buffer starts at bufCap bytes: a full
// chunk for shared workers, none for a connection's own (it grows to what
// that connection's events need).
func newWorker(retry []byte, bufCap int) *worker {
	return &worker{signal: make(chan struct{}, 1), buf: make([]byte, 0, bufCap), raw: newRawWriter(), retry: retry}
}

// push queues c; only the first push into an empty queue signals, as the
// worker drains the queue until it is empty.
func (w *worker) push(c *Conn) {
	w.mu.Lock()
	w.queue = append(w.queue, c)
	first := len(w.queue) == 1
	w.mu.Unlock()
	if first {
		select {
		case w.signal <- struct{}{}:
		default:
		}
	}
}

// run serves queued connections until stop (the engine's) or quit (a
// dedicated worker's connection has finished) is closed.
func (w *worker) run(stop, quit <-chan struct{}) {
	for {
		select {
		case <-w.signal:
		case <-stop:
			return
		case <-quit:
			return
		}
		for {
			w.mu.Lock()
			batch := w.queue
			w.queue, w.spare = w.spare[:0], nil
			w.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i, c := range batch {
				c.queued.Store(false) // a wake from here on queues it again
				w.serveRecovering(c)
				batch[i] = nil
				if i%yieldEvery == yieldEvery-1 {
					// Non-blocking writes never park the goroutine, so
					// without this a long fan-out holds its P for a whole
					// 10ms time slice while publish requests wait.
					runtime.Gosched()
				}
			}
			w.spare = batch[:0]
		}
	}
}

// chunksPerTurn bounds what one connection gets written per turn, so a
// long replay to a fast client does not hold up the worker's others: it
// goes to the back of the queue after this many chunks.
const chunksPerTurn = 4

// serve does what c is waiting for: ends it if asked to, writes what an
// earlier write left, then the events available.
func (w *worker) serve(c *Conn) {
	if c.closed {
		return
	}
	if c.sub.SlowConsumer() && c.ending == "" {
		// Cut by the hub, maybe while the socket takes nothing: waiting
		// to flush what is pending would wait for the write timeout.
		c.close(lifecycle.SlowConsumer)
		return
	}
	flags := c.flags.Swap(0)
	switch {
	case flags&flagShutdown != 0:
		c.close(lifecycle.Shutdown)
		return
	case flags&flagPeerGone != 0:
		c.close(lifecycle.ClientGone)
		return
	case flags&flagTimeout != 0:
		c.close(lifecycle.WriteError)
		return
	case c.ending != "":
		if c.flush() {
			c.close(c.ending)
		}
		return
	case flags&flagDrain != 0:
		c.end(lifecycle.ReloadDrain, lifecycle.LastFrame(lifecycle.ReloadDrain, c.sub, w.retry))
		return
	case flags&flagLifetime != 0:
		c.end(lifecycle.MaxLifetime, lifecycle.LastFrame(lifecycle.MaxLifetime, c.sub, w.retry))
		return
	}
	if !c.flush() {
		return
	}
	// Noted before reading, so what was published before the hub ended
	// the subscription goes out ahead of the closing frame, as on the
	// normal path.
	ended := isDone(c.sub)
	for chunks := 1; ; chunks++ {
		buf, more, err := c.sub.Next(w.buf[:0], lifecycle.WriteChunk)
		if lifecycle.KeepBuffer(buf) {
			w.buf = buf[:0]
		}
		if errors.Is(err, hub.ErrSlowConsumer) {
			c.end(lifecycle.SlowConsumer, buf) // with the notices Next added, as the normal path writes them
			return
		}
		if !c.send(buf) {
			return
		}
		if !more {
			break
		}
		if chunks == chunksPerTurn {
			c.Notify()
			return
		}
	}
	if ended {
		c.end(lifecycle.ClosedByHub, lifecycle.LastFrame(lifecycle.ClosedByHub, c.sub, w.retry))
		return
	}
	if flags&flagHeartbeat != 0 {
		c.send(hub.Heartbeat)
	}
}

func isDone(sub *hub.Subscriber) bool {
	select {
	case <-sub.Done():
		return true
	default:
		return false
	}
}

// send writes b, keeping what the socket does not take for later. It
// reports whether everything was written and the connection is open.
func (c *Conn) send(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	n, err := c.writeSome(b)
	if err != nil {
		c.close(lifecycle.WriteError)
		return false
	}
	if n < len(b) {
		c.pending = append(c.pending[:0], b[n:]...)
		c.blockedSince.CompareAndSwap(0, time.Now().UnixNano())
		return false
	}
	return true
}

// flush writes what an earlier write left; it reports whether nothing is
// left and the connection is open.
func (c *Conn) flush() bool {
	if len(c.pending) == 0 {
		return true
	}
	n, err := c.writeSome(c.pending)
	if err != nil {
		c.close(lifecycle.WriteError)
		return false
	}
	if n < len(c.pending) {
		c.pending = c.pending[n:]
		c.blockedSince.CompareAndSwap(0, time.Now().UnixNano())
		return false
	}
	c.pending = nil
	c.blockedSince.Store(0)
	return true
}

// end ends the stream once what is pending and last have gone out, as
// the normal path does with a blocking write: at once if the socket takes
// them, otherwise when it becomes writable, or at the write timeout.
func (c *Conn) end(reason lifecycle.EndReason, last []byte) {
	c.ending = reason
	c.pending = append(c.pending, last...)
	if c.flush() {
		c.close(reason)
	}
}

// close closes the socket and lets go of the subscription.
func (c *Conn) close(reason lifecycle.EndReason) {
	if c.closed {
		return
	}
	c.closed = true
	c.pending = nil
	c.sub.Close() // before the close: a client that sees the end is no longer counted
	if c.polled {
		c.engine.poller.remove(c) // while the fd is still open
	}
	if c.tls != nil && c.raw != nil {
		_ = c.closeTLS()
	} else {
		_ = c.nc.Close()
	}
	c.engine.forget(c) // last: Shutdown waits for every connection to get here
	if c.quit != nil {
		close(c.quit)
	}
	if c.onClose != nil {
		c.onClose(reason)
	}
}
