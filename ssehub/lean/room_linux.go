package lean

import (
	"syscall"
	"unsafe"
)

// sendRoom is how many bytes the socket's send buffer takes now without
// blocking: half of SO_SNDBUF (the kernel doubles the value set, for its
// own bookkeeping) less what is queued and not yet acknowledged
// (SIOCOUTQ). It errs on the small side; 0 when it cannot tell.
func sendRoom(raw syscall.RawConn) int {
	if raw == nil {
		return 0
	}
	room := 0
	_ = raw.Control(func(fd uintptr) {
		sndbuf, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
		if err != nil {
			return
		}
		var queued int32
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued))); errno != 0 {
			return
		}
		room = max(0, sndbuf/2-int(queued))
	})
	return room
}

// TLSSupported reports whether HTTP/1.1-over-TLS streams can be parked:
// it needs sendRoom.
const TLSSupported = true
