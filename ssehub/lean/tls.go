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
func (c *Conn) writeTLS(b []byte) (int, error) {
	room := sendRoom(c.raw)
	// Leave room for the records' own bytes: one per 16 KiB written.
	n := min(len(b), room-tlsRecordRoom*(room/maxTLSRecord+1))
	if n <= 0 {
		return 0, nil
	}
	_ = c.tls.SetWriteDeadline(time.Now().Add(c.engine.settings.WriteTimeout))
	return c.tls.Write(b[:n])
}

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
