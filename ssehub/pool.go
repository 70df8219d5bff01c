package ssehub

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/redisbackend"
)

// hubs holds every live hub by name. A hub is created by the first handler
// that names it and closed when the last config using it is cleaned up; on
// a reload the new config attaches before the old one detaches, so the hub
// with its history and IDs carries over.
var hubs = caddy.NewUsagePool()

// pooledHub is a hub plus the handlers attached to it. The newest attached
// handler that sets hub options decides the hub's config, so after a reload
// the new config's options apply.
type pooledHub struct {
	hub *hub.Hub

	mu          sync.Mutex // guards attachments and redis
	attachments []attachment
	// redis is the Redis setup the hub's backend uses, nil in memory.
	redis *redisbackend.Config
}

type attachment struct {
	handler *Handler
	// loadedBy identifies the config load (its context), to tell two
	// handlers of one config that disagree from an old and a new config.
	loadedBy any
	cfg      hub.Config
	setsHub  bool
	// redis is the handler's resolved Redis setup, nil for in memory.
	redis  *redisbackend.Config
	logger *zap.Logger
}

// Destruct closes the hub when no config uses it any more.
func (p *pooledHub) Destruct() error {
	p.hub.Close()
	return nil
}

// attachHub returns the named hub, creating it if needed, and applies cfg
// when setsHub is true.
func attachHub(ctx caddy.Context, h *Handler, name string, cfg hub.Config, setsHub bool) (*hub.Hub, error) {
	val, _, err := hubs.LoadOrNew(name, func() (caddy.Destructor, error) {
		hb, err := hub.New(name, cfg)
		if err != nil {
			return nil, err
		}
		ctx.Logger().Info("hub created", zap.String("hub", name))
		return &pooledHub{hub: hb}, nil
	})
	if err != nil {
		return nil, err
	}
	p := val.(*pooledHub)
	a := attachment{handler: h, loadedBy: ctx.Context, cfg: cfg, setsHub: setsHub, logger: ctx.Logger()}
	if h.Redis != nil {
		rc := h.Redis.backendConfig(cfg)
		a.redis = &rc
	}
	if err := p.attach(a); err != nil {
		_, _ = hubs.Delete(name)
		return nil, err
	}
	return p.hub, nil
}

func (p *pooledHub) attach(a attachment) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.setsHub {
		for _, other := range p.attachments {
			if other.setsHub && other.loadedBy == a.loadedBy && (!reflect.DeepEqual(other.cfg, a.cfg) || !reflect.DeepEqual(other.redis, a.redis)) {
				return fmt.Errorf("two sse_hub handlers set different options for this hub; set them in one place")
			}
		}
	}
	p.attachments = append(p.attachments, a)
	return p.applyNewest()
}

// applyNewest configures the hub from the newest attachment that sets hub
// options; with none left, the hub keeps its config. Caller holds p.mu.
func (p *pooledHub) applyNewest() error {
	for _, a := range slices.Backward(p.attachments) {
		if a.setsHub {
			if err := p.hub.Configure(a.cfg); err != nil {
				return err
			}
			p.applyBackend(a)
			return nil
		}
	}
	return nil
}

// applyBackend switches the hub's backend when the Redis setup changed
// (or appeared, or went away): the old follower stops and a new one starts
// from the last event the hub applied. A reload with the same setup keeps
// the running follower. Caller holds p.mu.
func (p *pooledHub) applyBackend(a attachment) {
	if reflect.DeepEqual(p.redis, a.redis) {
		return
	}
	p.redis = a.redis
	if a.redis == nil {
		p.hub.SetBackend(nil, nil)
		a.logger.Info("hub keeps its events in memory", zap.String("hub", p.hub.Name()))
		return
	}
	b := redisbackend.New(*a.redis, p.hub.Name())
	a.logger.Info("hub stores its events in redis", zap.String("hub", p.hub.Name()),
		zap.Strings("addresses", a.redis.Addrs), zap.String("stream", b.Key()), zap.Int64("max_len", a.redis.MaxLen))
	p.hub.SetBackend(b, backendStateLogger(a.logger, p.hub.Name(), b.Key()))
}

func detachHub(h *Handler, name string) error {
	if p := findPooled(name); p != nil {
		p.mu.Lock()
		p.attachments = slices.DeleteFunc(p.attachments, func(a attachment) bool { return a.handler == h })
		_ = p.applyNewest()
		p.mu.Unlock()
	}
	_, err := hubs.Delete(name)
	return err
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
