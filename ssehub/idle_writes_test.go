package ssehub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// deadlineCounter is a response writer that counts the write deadlines
// set on it, as net/http's writer would receive them.
type deadlineCounter struct {
	*httptest.ResponseRecorder
	set int
}

func (d *deadlineCounter) SetWriteDeadline(time.Time) error { d.set++; return nil }

// idleRequest returns a request carrying an IdleTimeoutWriter set up the
// way Caddy's server sets one up for HTTP/2, over a deadline counter.
func idleRequest(timeout time.Duration, minRate int64) (*http.Request, *caddyhttp.IdleTimeoutWriter, *deadlineCounter) {
	under := &deadlineCounter{ResponseRecorder: httptest.NewRecorder()}
	idle := &caddyhttp.IdleTimeoutWriter{
		ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: under},
		Ctrl:                  http.NewResponseController(under),
		Deadline:              caddyhttp.IdleDeadline{Start: time.Now(), Timeout: timeout, MinRate: minRate},
		ClearBetweenWrites:    true,
	}
	r := httptest.NewRequest(http.MethodGet, "/events/news", nil)
	r = r.WithContext(caddyhttp.ContextWithIdleTimeouts(context.Background(), nil, idle))
	return r, idle, under
}

// writeAndFlush writes one event the way a stream does.
func writeAndFlush(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	if _, err := w.Write([]byte("data: x\n\n")); err != nil {
		t.Fatal(err)
	}
	if err := http.NewResponseController(w).Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestStreamTakesOverCaddysWriteIdleTimeout: while a stream runs, Caddy's
// idle timeout writer sets no deadline around its writes (on HTTP/2 each
// is a message to the connection's goroutine), the stream's watchdog
// bounds writes by the smaller of the two timeouts, and the writer gets
// its deadlines back afterwards.
func TestStreamTakesOverCaddysWriteIdleTimeout(t *testing.T) {
	r, idle, under := idleRequest(2*time.Second, 0)
	writeAndFlush(t, idle)
	if under.set != 4 {
		t.Fatalf("before the take-over an event set %d deadlines, want 4 (set and clear around Write and Flush)", under.set)
	}

	timeout, giveBack := takeOverIdleWrites(r, 10*time.Second)
	if timeout != 2*time.Second {
		t.Errorf("the stream watches writes with %v, want Caddy's 2s idle timeout (smaller than write_timeout 10s)", timeout)
	}
	under.set = 0
	for range 3 {
		writeAndFlush(t, idle)
	}
	if under.set != 0 {
		t.Errorf("during the take-over 3 events set %d deadlines, want 0", under.set)
	}

	giveBack()
	writeAndFlush(t, idle)
	if under.set != 4 {
		t.Errorf("after giving back, an event set %d deadlines, want 4", under.set)
	}

	// write_timeout smaller than the idle timeout: it stays.
	r, _, _ = idleRequest(time.Minute, 0)
	timeout, giveBack = takeOverIdleWrites(r, 10*time.Second)
	giveBack()
	if timeout != 10*time.Second {
		t.Errorf("write_timeout 10s under a 1m idle timeout: watched with %v", timeout)
	}
}

// TestStreamLeavesAMinimumWriteRateToCaddy: a minimum rate is a rule the
// watchdog does not apply, so the wrapper keeps doing its job.
func TestStreamLeavesAMinimumWriteRateToCaddy(t *testing.T) {
	r, idle, under := idleRequest(2*time.Second, 1024)
	timeout, giveBack := takeOverIdleWrites(r, 10*time.Second)
	defer giveBack()
	if timeout != 10*time.Second {
		t.Errorf("watched with %v, want write_timeout 10s", timeout)
	}
	writeAndFlush(t, idle)
	if under.set != 4 {
		t.Errorf("with write_min_rate an event set %d deadlines, want Caddy's 4", under.set)
	}
}

// TestStreamWithoutIdleTimeout: no wrapper, nothing to take over.
func TestStreamWithoutIdleTimeout(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/events/news", nil)
	timeout, giveBack := takeOverIdleWrites(r, 10*time.Second)
	giveBack()
	if timeout != 10*time.Second {
		t.Errorf("watched with %v, want write_timeout 10s", timeout)
	}
}

// TestTakenOverControllerStillReachesTheWriter: only write deadlines are
// dropped; anything else done through the idle writer's controller
// reaches the writer beneath.
func TestTakenOverControllerStillReachesTheWriter(t *testing.T) {
	r, idle, under := idleRequest(2*time.Second, 0)
	_, giveBack := takeOverIdleWrites(r, 10*time.Second)
	defer giveBack()
	if err := idle.Ctrl.Flush(); err != nil {
		t.Fatalf("a flush through the taken-over controller: %v", err)
	}
	if !under.Flushed {
		t.Error("the flush did not reach the writer beneath")
	}
	if err := idle.Ctrl.SetWriteDeadline(time.Now()); err != nil || under.set != 0 {
		t.Errorf("a write deadline through the taken-over controller: err %v, %d set beneath (want dropped)", err, under.set)
	}
}
