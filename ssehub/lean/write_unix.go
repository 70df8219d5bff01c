//go:build unix

package lean

import (
	"errors"
	"syscall"
)

// rawWriter writes as much of a buffer as a socket takes now and never
// waits: the socket is non-blocking (Go's netpoller made it so) and the
// function passed to RawConn.Write reports done after one attempt. Each
// worker has one, so the function is built once, not per write.
type rawWriter struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func newRawWriter() *rawWriter {
	w := new(rawWriter)
	w.fn = func(fd uintptr) bool {
		for {
			w.n, w.err = syscall.Write(int(fd), w.b)
			if !errors.Is(w.err, syscall.EINTR) {
				return true
			}
		}
	}
	return w
}

func (w *rawWriter) write(raw syscall.RawConn, b []byte) (int, error) {
	w.b = b
	defer func() { w.b = nil }()
	if err := raw.Write(w.fn); err != nil {
		return 0, err
	}
	n := max(w.n, 0)
	if errors.Is(w.err, syscall.EAGAIN) {
		return n, nil
	}
	return n, w.err
}

// Supported reports whether the lean path works on this platform.
const Supported = true
