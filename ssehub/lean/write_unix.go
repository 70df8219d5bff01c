//go:build unix

package lean

import (
	"errors"
	"syscall"
)

// rawWrite writes as much of b as the socket takes now and never waits:
// the socket is non-blocking (Go's netpoller made it so) and the function
// passed to RawConn.Write reports done after one attempt.
func rawWrite(raw syscall.RawConn, b []byte) (int, error) {
	var n int
	var err error
	if werr := raw.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), b)
			if !errors.Is(err, syscall.EINTR) {
				return true
			}
		}
	}); werr != nil {
		return 0, werr
	}
	if n < 0 {
		n = 0
	}
	if errors.Is(err, syscall.EAGAIN) {
		return n, nil
	}
	return n, err
}

// rawSupported reports whether rawWrite works on this platform.
const rawSupported = true
