package lean

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// writeSome writes what the socket takes now. n < len(b) with a nil error
// means the socket is full: keep the rest and try again when writable.
//
// A connection without a raw socket has a worker of its own, so it
// blocks, up to the write timeout, like a normal-path stream.
func (c *Conn) writeSome(b []byte) (int, error) {
	if c.tls != nil && c.raw != nil {
		return c.writeTLS(b)
	}
	if c.raw != nil && c.tls == nil {
		n, err := c.worker.raw.write(c.raw, b)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// A write deadline set on the socket after the hand-over (by
			// a wrapper finishing its request) is none of ours: lean
			// writes never wait.
			_ = c.nc.SetWriteDeadline(time.Time{})
			n, err = c.worker.raw.write(c.raw, b)
		}
		return n, err
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.engine.settings.WriteTimeout))
	return c.nc.Write(b)
}

// socketOf returns the socket beneath nc, looking through listener
// wrappers whose writes go straight to the connection they wrap (the PROXY
// protocol's, whose header has been read with the request), or nil.
// Never through TLS: its bytes are not the stream's.
func socketOf(nc net.Conn) syscall.Conn {
	for range 8 {
		if sc, ok := nc.(syscall.Conn); ok {
			return sc
		}
		u, ok := nc.(interface{ Raw() net.Conn }) // github.com/pires/go-proxyproto
		if !ok {
			return nil
		}
		nc = u.Raw()
	}
	return nil
}
