package hub

import (
	"runtime/debug"
	"sync/atomic"
)

// Panic is a panic recovered in a goroutine the module started, so that
// one bad stream or read does not end the whole process.
type Panic struct {
	// Where names the goroutine, from a fixed set (a metric label): the
	// Panic constants below, or those of a package that reports its own
	// goroutines' panics through ReportPanic.
	Where string
	Value any
	Stack []byte
}

// Goroutines of the hub core that recover panics.
const (
	PanicRedisFollower = "redis_follower"
	PanicJanitor       = "hub_janitor"
	PanicFanout        = "hub_fanout"
)

// panicHook receives recovered panics; nil until SetPanicHook.
var panicHook atomic.Pointer[func(Panic)]

// SetPanicHook sets the function told of every recovered panic; the HTTP
// layer logs and counts them. The core has no logger of its own.
func SetPanicHook(f func(Panic)) {
	panicHook.Store(&f)
}

// ReportPanic hands a recovered value to the hook, with the stack of the
// goroutine that panicked (call it from the deferred function).
func ReportPanic(where string, v any) {
	if f := panicHook.Load(); f != nil && *f != nil {
		(*f)(Panic{Where: where, Value: v, Stack: debug.Stack()})
	}
}
