//go:build !unix

package lean

import (
	"errors"
	"syscall"
)

type rawWriter struct{}

func newRawWriter() *rawWriter { return nil }

func (*rawWriter) write(syscall.RawConn, []byte) (int, error) {
	return 0, errors.New("raw writes are not supported on this platform")
}

// Supported reports whether the lean path works on this platform.
const Supported = false
