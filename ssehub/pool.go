package ssehub

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/redisbackend"
)

// hubs holds every live hub by name. The sse_hub app of each running
// config holds one reference per hub it uses, taken in Start and given
// back in Stop. On a reload the new config takes its references before the
// old one gives its back, so a hub with its history and IDs carries over;
// a hub that no config holds any more is closed.
var hubs = caddy.NewUsagePool()

// pooledHub is a live hub and the settings it currently runs with.
type pooledHub struct {
	hub *hub.Hub
	// maxHeap is the applied max_heap_bytes, read by admin publishes.
	maxHeap atomic.Int64

	mu sync.Mutex // guards applied, and serializes apply
	// applied is what the hub was last set to; nil until the first commit.
	applied *hubSettings
}

// Destruct closes the hub when no config uses it any more.
func (p *pooledHub) Destruct() error {
	p.hub.Close()
	return nil
}

// acquireHub takes a reference to the named hub, creating it with s if no
// running config uses it. A hub that exists already is left exactly as it
// is: only apply changes it, once the config that asks is live.
func acquireHub(name string, s hubSettings, logger *zap.Logger) (*pooledHub, error) {
	val, _, err := hubs.LoadOrNew(name, func() (caddy.Destructor, error) {
		hb, err := hub.New(name, s.Core)
		if err != nil {
			return nil, err
		}
		logger.Info("hub created", zap.String("hub", name))
		return &pooledHub{hub: hb}, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*pooledHub), nil
}

// releaseHub gives a reference back; the last one closes the hub.
func releaseHub(name string) {
	_, _ = hubs.Delete(name)
}

// apply sets the hub to s, as the config now live asks: declared channels
// are added or updated, channels the config no longer allows are closed,
// and the backend is switched only if the Redis setup changed (a running
// follower with the same setup keeps running). Nothing happens when s is
// what the hub already runs with.
func (p *pooledHub) apply(s hubSettings, logger *zap.Logger) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.applied != nil && p.applied.equal(s) {
		return nil
	}
	if err := p.hub.Configure(s.Core); err != nil {
		return err
	}
	first := p.applied == nil
	if first && s.Redis != nil || !first && !p.applied.sameBackend(s) {
		p.switchBackend(s.Redis, logger)
	}
	p.applied = &s
	p.maxHeap.Store(s.MaxHeapBytes)
	return nil
}

// switchBackend stops the hub's follower, if any, and starts one for rc
// from the last event the hub applied; rc nil keeps events in memory.
// Caller holds p.mu.
func (p *pooledHub) switchBackend(rc *redisbackend.Config, logger *zap.Logger) {
	name := p.hub.Name()
	if rc == nil {
		p.hub.SetBackend(nil, nil)
		logger.Info("hub keeps its events in memory", zap.String("hub", name))
		return
	}
	b := redisbackend.New(*rc, name)
	logger.Info("hub stores its events in redis", zap.String("hub", name),
		zap.Strings("addresses", rc.Addrs), zap.String("stream", b.Key()), zap.Int64("max_len", rc.MaxLen))
	p.hub.SetBackend(b, backendStateLogger(logger, name, b.Key()))
}

func findPooled(name string) *pooledHub {
	var found *pooledHub
	hubs.Range(func(key, val any) bool {
		if key == name {
			found = val.(*pooledHub)
			return false
		}
		return true
	})
	return found
}

// lookupHub finds a live hub by name for the admin API.
func lookupHub(name string) (*hub.Hub, bool) {
	if p := findPooled(name); p != nil {
		return p.hub, true
	}
	return nil, false
}

// checkHeap refuses a publish to the named hub while the heap is over
// the hub's max_heap_bytes.
func checkHeap(name string) error {
	if p := findPooled(name); p != nil {
		return hubSettings{MaxHeapBytes: p.maxHeap.Load()}.checkHeap()
	}
	return nil
}

// allHubs lists the live hubs, sorted by name.
func allHubs() []*hub.Hub {
	var list []*hub.Hub
	hubs.Range(func(_, val any) bool {
		list = append(list, val.(*pooledHub).hub)
		return true
	})
	slices.SortFunc(list, func(a, b *hub.Hub) int { return strings.Compare(a.Name(), b.Name()) })
	return list
}

// maxPublishBytes is the largest publish body any hub accepts, the bound
// for reading a body before it is known which hub it names.
func maxPublishBytes() int64 {
	limit := int64(hub.DefaultMaxPublishBytes)
	for _, hb := range allHubs() {
		limit = max(limit, hb.Limits().MaxPublishBytes)
	}
	return limit
}
