package lean

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/internal/faults"
)

// A panic while a worker serves one connection ends that stream only: it
// is reported with its stack, and the worker goes on serving the others.
func TestPanicInAWorkerEndsOneStream(t *testing.T) {
	var mu sync.Mutex
	var reports []hub.Panic
	hub.SetPanicHook(func(p hub.Panic) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
	})
	t.Cleanup(func() { hub.SetPanicHook(nil) })

	hb := newHub(t)
	e := newEngine(t, Settings{})
	bad, good := e.Prepare(), e.Prepare()
	good.worker = bad.worker // one worker serves both
	var armed sync.Once
	inject := func(nc net.Conn) {
		if nc == bad.nc {
			armed.Do(func() { panic("injected") })
		}
	}
	faults.LeanServe.Store(&inject)
	t.Cleanup(func() { faults.LeanServe.Store(nil) })
	badClient := parkConn(t, e, hb, bad, 0, nil)
	goodClient := parkConn(t, e, hb, good, 0, nil)

	if r := badClient.endReason(t); r != "internal_error" {
		t.Fatalf("the stream whose serve panicked ended with %q, want internal_error", r)
	}
	badClient.readToEOF(t)
	want := "HEAD\n" + publish(t, hb, "one") + publish(t, hb, "two")
	if got := goodClient.readUntil(t, want); got != want {
		t.Fatalf("the other stream on the worker got %q, want %q", got, want)
	}
	if n := hb.Subscribers(); n != 1 {
		t.Errorf("%d subscribers in the hub, want 1 (the panicked one let go of its subscription)", n)
	}
	if n := e.Len(); n != 1 {
		t.Errorf("%d connections in the engine, want 1", n)
	}
	// A new stream is served too.
	later := park(t, e, hb, 0, nil)
	want = "HEAD\n" + publish(t, hb, "three")
	if got := later.readUntil(t, want); got != want {
		t.Fatalf("a stream parked after the panic got %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 1 || reports[0].Where != PanicWorker || reports[0].Value != "injected" || !strings.Contains(string(reports[0].Stack), "serveRecovering") {
		t.Fatalf("panic reports %+v, want one from %s with the value and its stack", reports, PanicWorker)
	}
}
