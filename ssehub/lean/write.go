package lean

import (
	"errors"
	"os"
	"time"
)

// shortDeadline bounds a write to a connection without a raw socket (one
// wrapped by a listener wrapper), so a stuck client stalls its worker no
// longer than this per attempt.
const shortDeadline = 2 * time.Millisecond

// writeSome writes what the socket takes now. n < len(b) with a nil error
// means the socket is full: keep the rest and try again when writable.
func (c *Conn) writeSome(b []byte) (int, error) {
	if c.raw != nil {
		return c.worker.raw.write(c.raw, b)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(shortDeadline))
	n, err := c.nc.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}
