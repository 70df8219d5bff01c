// Package lean parks hijacked HTTP/1.1 event streams in a shared engine
// instead of giving each a goroutine and net/http's buffers.
//
// An idle lean connection is a socket, its hub subscription and a few
// timestamps: about 3 kB instead of the ~40 kB a streaming handler costs
// through Caddy's response writer. A few worker goroutines do every write,
// without blocking: a client that cannot take more keeps the unwritten
// rest and is retried when its socket is writable again (or dropped after
// the write timeout). One poller goroutine notices closed peers at once,
// and one ticker drives heartbeats, lifetimes, write timeouts and the
// reload drain for all connections. (A connection whose socket a listener
// wrapper hides gets a worker of its own, which blocks.)
//
// It needs non-blocking writes to the socket, so it works on Unix only
// (see Supported); the poller is Linux's epoll.
package lean
