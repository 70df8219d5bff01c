// Package faults holds the points where tests make the module fail as a
// bug would (a panic in a goroutine it started), to prove that Caddy
// survives it. Only tests set them; production code pays an atomic load.
package faults

import (
	"net"
	"sync/atomic"
)

// LeanServe, when set, runs as a lean worker starts serving a connection;
// a test makes it panic for the one connection it picks.
var LeanServe atomic.Pointer[func(net.Conn)]
