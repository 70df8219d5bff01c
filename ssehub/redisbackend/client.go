package redisbackend

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

// PanicClientRetire names the timer goroutine that closes replaced
// clients (hub.Panic.Where).
const PanicClientRetire = "redis_client_retire"

// renewingClient is a go-redis client replaced by a fresh one after a
// failed dial. go-redis stops dialing once a pool has failed PoolSize
// dials in a row and then probes the server once a second; with one
// client for good, a node would go on refusing publishes, and a node that
// does not publish would go on missing events, for up to a second after
// Redis is back. A fresh client dials on its first command.
type renewingClient struct {
	opts *redis.UniversalOptions

	mu       sync.Mutex
	client   redis.UniversalClient // nil once closed
	renewed  time.Time
	retiring []redis.UniversalClient // replaced, closed after retireAfter or on close
}

const (
	// renewEvery bounds how often a client is replaced while Redis stays
	// down: at most one fresh client (and its one dial) per interval.
	renewEvery = 50 * time.Millisecond
	// retireAfter lets calls already running on a replaced client finish.
	retireAfter = dialTimeout + ioTimeout
)

func newRenewingClient(opts *redis.UniversalOptions) *renewingClient {
	return &renewingClient{opts: opts, client: redis.NewUniversalClient(opts)}
}

// get returns the current client, nil once closed.
func (r *renewingClient) get() redis.UniversalClient {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.client
}

// failed is told of each error a call on c returned; a failed dial
// replaces c, unless it was replaced already or renewEvery has not passed.
func (r *renewingClient) failed(c redis.UniversalClient, err error) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != c || time.Since(r.renewed) < renewEvery {
		return
	}
	r.client = redis.NewUniversalClient(r.opts)
	r.renewed = time.Now()
	r.retiring = append(r.retiring, c)
	time.AfterFunc(retireAfter, func() { r.retire(c) })
}

// retire closes a replaced client; it runs on a timer's goroutine, so a
// panic (a bug) is reported rather than ending the process.
func (r *renewingClient) retire(c redis.UniversalClient) {
	defer func() {
		if v := recover(); v != nil {
			hub.ReportPanic(PanicClientRetire, v)
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, old := range r.retiring {
		if old == c {
			r.retiring = append(r.retiring[:i], r.retiring[i+1:]...)
			_ = c.Close()
			return
		}
	}
}

// close closes every client; calls in flight fail.
func (r *renewingClient) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		return nil
	}
	for _, old := range r.retiring {
		_ = old.Close()
	}
	r.retiring = nil
	err := r.client.Close()
	r.client = nil
	return err
}
