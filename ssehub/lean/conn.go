package lean

import (
	"crypto/tls"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// Requests to a connection's worker, set by the ticker, the poller and the
// engine, and handled the next time the worker serves the connection.
const (
	flagHeartbeat uint32 = 1 << iota
	flagPeerGone
	flagTimeout
	flagDrain
	flagLifetime
	flagShutdown
)

// Conn is one stream parked in an Engine. Only its worker writes to the
// socket and reads the subscription, so none of that needs a lock.
type Conn struct {
	engine *Engine
	worker *worker
	id     uint64

	// Set by Adopt before the worker first sees the connection.
	nc      net.Conn
	raw     syscall.RawConn // nil: written by a dedicated worker, blocking
	tls     *tls.Conn       // set for HTTP/1.1 over TLS; raw is then the socket beneath (tls.go)
	sub     *hub.Subscriber
	onClose func(reason lifecycle.EndReason)
	polled  bool          // the poller watches the socket
	quit    chan struct{} // closed when a dedicated worker's connection finishes

	queued atomic.Bool   // in its worker's queue (or not adopted yet)
	flags  atomic.Uint32 // pending requests, see flag*

	// blockedSince is when a write first could not finish (unix ns), 0
	// while the socket keeps up. Set by the worker, read by the ticker.
	blockedSince atomic.Int64

	// Worker-owned.
	pending     []byte              // bytes taken from the hub that the socket has not taken yet
	tlsCredit   int                 // send-buffer room known to be free, for TLS writes (tls.go)
	tlsDeadline time.Time           // the TLS connection's write deadline (tls.go)
	ending      lifecycle.EndReason // why the stream ends once pending is out; "" while it goes on
	closed      bool

	// Ticker-owned, under engine.mu.
	slot     int                // index in engine.conns
	schedule lifecycle.Schedule // heartbeat, lifetime, drain
}

// Notify is the subscription's wake-up (hub.SubscribeRequest.Notify): it
// queues the connection on its worker unless it is queued already. Called
// by publishers, so it never blocks.
func (c *Conn) Notify() {
	if c.queued.CompareAndSwap(false, true) {
		c.worker.push(c)
	}
}

// request asks the worker to act on flags and wakes it.
func (c *Conn) request(flags uint32) {
	c.flags.Or(flags)
	c.Notify()
}
