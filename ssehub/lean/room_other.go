//go:build !linux

package lean

import "syscall"

// sendRoom cannot be measured here: TLS streams take the normal path.
func sendRoom(syscall.RawConn) int { return 0 }

// TLSSupported reports whether HTTP/1.1-over-TLS streams can be parked.
const TLSSupported = false
