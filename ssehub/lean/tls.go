package lean

import (
	"crypto/tls"
	"net"
	"time"
)

// A TLS stream (HTTP/1.1 over TLS) is parked like a plain one: the poller
// watches the socket beneath the TLS connection for the peer leaving, and
// the worker writes through the TLS connection, which encrypts. A TLS
// write cannot be made non-blocking the way a raw one is (tls.Conn owns
// the socket's deadline and would fail for good on a timeout), so the
// worker writes only what the socket's send buffer has room for right now,
// measured before each write; the rest stays pending and is retried every
// tick. The write timeout, set as the write's deadline, is the last
// resort: it drops the client rather than letting a worker wait longer.

// tlsRecordRoom is what a TLS record adds to its payload (header, AEAD tag
// and content type; 22 bytes with TLS 1.3), rounded up generously.
const tlsRecordRoom = 64

// maxTLSRecord is the largest payload of one TLS record.
const maxTLSRecord = 16 << 10

// tlsConnOf returns the TLS connection nc is, and the connection beneath
// it, whose socket the poller watches and whose room is measured.
func tlsConnOf(nc net.Conn) (*tls.Conn, net.Conn) {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return nil, nil
	}
	return tc, tc.NetConn()
}

// writeTLS writes as much of b as the socket takes now, encrypted. n <
// len(b) with a nil error means the socket is full: keep the rest.
//
// The room is measured (two system calls) only when the credit left from
// the last measurement does not cover the write: only this worker writes
// to the socket, and what the kernel holds can only shrink as the peer
// acknowledges, so the room measured stays there, less what was written
// since. Small events then cost one system call, the write itself.
func (c *Conn) writeTLS(b []byte) (int, error) {
	if c.tlsCredit < tlsCost(len(b)) {
		c.tlsCredit = sendRoom(c.raw)
	}
	// Leave room for the records' own bytes: one per 16 KiB written.
	n := min(len(b), c.tlsCredit-tlsRecordRoom*(c.tlsCredit/maxTLSRecord+1))
	if n <= 0 {
		return 0, nil
	}
	c.keepWriteDeadline()
	w, err := c.tls.Write(b[:n])
	c.tlsCredit -= tlsCost(w)
	return w, err
}

// keepWriteDeadline keeps the TLS connection's write deadline between half
// and the whole write timeout ahead, moving it (a call into the runtime's
// poller) once per half timeout rather than on every write: a write that
// should not block but does drops the client after at most the timeout.
func (c *Conn) keepWriteDeadline() {
	timeout := c.engine.settings.WriteTimeout
	now := time.Now()
	if now.Add(timeout / 2).Before(c.tlsDeadline) {
		return
	}
	c.tlsDeadline = now.Add(timeout)
	_ = c.tls.SetWriteDeadline(c.tlsDeadline)
}

// tlsCost is what n bytes of payload take in the socket's buffer.
func tlsCost(n int) int { return n + tlsRecordRoom*(n/maxTLSRecord+1) }

// closeTLS ends a TLS stream: with a close_notify alert when the socket
// has room for it (so the client sees a clean end), else by closing the
// socket, as tls.Conn's Close would otherwise wait to write the alert.
func (c *Conn) closeTLS() error {
	if sendRoom(c.raw) >= tlsRecordRoom {
		_ = c.tls.SetWriteDeadline(time.Now().Add(time.Second))
		return c.tls.Close()
	}
	return c.tls.NetConn().Close()
}
