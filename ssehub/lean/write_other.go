//go:build !unix

package lean

import (
	"errors"
	"syscall"
)

func rawWrite(syscall.RawConn, []byte) (int, error) {
	return 0, errors.New("raw writes are not supported on this platform")
}

const rawSupported = false
