package ssehub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"go.uber.org/zap"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

func init() {
	caddy.RegisterModule(new(App))
}

// App owns sse_hub's hubs: their channels, history, limits and Redis
// backend. Hubs are defined here (the Caddyfile's global sse_hub option)
// or, in the short form, inside the sse_hub handler that serves them;
// handlers refer to a hub by name. A hub carries over a reload with its
// history and event IDs.
//
// A config is applied to the hubs only once it is live: provisioning
// checks it and touches nothing, and the hubs are set to it after every
// app of the config started. A config that Caddy refuses (a module fails
// to provision, a port is taken) leaves every hub exactly as it was: no
// channel closed, no history lost, no Redis connection switched.
type App struct {
	// Hubs by name. A hub that handlers name but that is defined nowhere
	// runs with the default settings.
	Hubs map[string]*HubConfig `json:"hubs,omitempty"`

	// plans holds every hub this config uses, by name; filled while the
	// config is provisioned (by the app, then by each handler), read-only
	// once it starts.
	plans map[string]*hubPlan
	// held lists the hubs this app took from the pool in Start; Stop gives
	// them back. Guarded by mu, as Start, Stop and the commit may race.
	mu        sync.Mutex
	held      []*pooledHub
	committed bool
	stopped   bool

	logger *zap.Logger
}

// hubPlan is what one config wants of one hub.
type hubPlan struct {
	name     string
	settings hubSettings
	// definedBy says where the settings come from, for error messages;
	// "" while only defaults apply.
	definedBy string

	// ready is closed once the config is live and the hub set up; hub is
	// the live hub from then on.
	ready chan struct{}
	hub   *hub.Hub
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sse_hub",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision checks the hubs defined here and subscribes to Caddy's
// "started" event, the moment the config is known to be live. It changes
// nothing that is running and opens no connection.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.plans = make(map[string]*hubPlan)
	names := make([]string, 0, len(a.Hubs))
	for name := range a.Hubs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		cfg := a.Hubs[name]
		if cfg == nil {
			cfg = new(HubConfig)
		}
		if _, err := a.define(name, cfg, "the sse_hub app (global option)"); err != nil {
			return err
		}
	}
	events, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("loading the events app: %v", err)
	}
	return events.(*caddyevents.App).On("started", configStarted{a})
}

// define records a definition of a hub from cfg, or a reference to it
// when cfg sets nothing. Two definitions must agree: the error names both.
func (a *App) define(name string, cfg *HubConfig, where string) (*hubPlan, error) {
	if err := hub.ValidateHubName(name); err != nil {
		return nil, err
	}
	s, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("hub %q (%s): %v", name, where, err)
	}
	p := a.plans[name]
	if p == nil {
		p = &hubPlan{name: name, ready: make(chan struct{})}
		if p.settings, err = new(HubConfig).settings(); err != nil {
			return nil, err
		}
		a.plans[name] = p
	}
	if !cfg.isSet() {
		return p, nil
	}
	if p.definedBy != "" {
		if !p.settings.equal(s) {
			return nil, fmt.Errorf("hub %q is defined twice with different settings, in %s and in %s: define it in one place (the global sse_hub option, with handlers naming it by \"hub %s\")",
				name, p.definedBy, where, name)
		}
		return p, nil
	}
	p.settings, p.definedBy = s, where
	return p, nil
}

// Start takes a reference to every hub the config uses, creating the ones
// no running config has. It changes no running hub: a later app's failed
// Start stops this app again and everything is as it was.
func (a *App) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.plans {
		ph, err := acquireHub(p.name, p.settings, a.logger)
		if err != nil {
			a.releaseLocked()
			return fmt.Errorf("hub %q: %v", p.name, err)
		}
		a.held = append(a.held, ph)
	}
	return nil
}

// commit sets every hub to this config once all of the config's apps
// started. Destructive changes (channels closed, a follower switched)
// happen here and nowhere else.
func (a *App) commit() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.committed || a.stopped {
		return nil
	}
	a.committed = true
	var errs []error
	for _, ph := range a.held {
		p := a.plans[ph.hub.Name()]
		if err := ph.apply(p.settings, a.logger); err != nil {
			// Provision validated the settings, so this is not expected;
			// the hub keeps running with what it had.
			a.logger.Error("configuring hub", zap.String("hub", p.name), zap.Error(err))
			errs = append(errs, err)
		}
		p.hub = ph.hub
		close(p.ready)
	}
	return errors.Join(errs...)
}

// Stop gives the hub references back: a hub the next config also uses
// keeps running; one no config uses any more is closed.
func (a *App) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	a.releaseLocked()
	return nil
}

func (a *App) releaseLocked() {
	for _, ph := range a.held {
		releaseHub(ph.hub.Name())
	}
	a.held = nil
}

// plan returns what this config wants of the named hub.
func (a *App) plan(name string) *hubPlan { return a.plans[name] }

// configStarted commits the app when Caddy emits "started" for its
// config, after every app of the config started.
type configStarted struct{ app *App }

// Handle implements caddyevents.Handler.
func (c configStarted) Handle(context.Context, caddy.Event) error {
	return c.app.commit()
}

// errHubNotReady answers a request that arrives while its config is still
// starting, or after a refused config was rolled back.
var errHubNotReady = errors.New("the hub is not ready: its config is starting or was not applied; try again")

// live waits until the config is live and returns its hub. It only ever
// waits during the moments between a config's servers starting and the
// config being committed.
func (p *hubPlan) live(ctx context.Context, unloaded <-chan struct{}) (*hub.Hub, error) {
	select {
	case <-p.ready:
		return p.hub, nil
	default:
	}
	select {
	case <-p.ready:
		return p.hub, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-unloaded:
		return nil, errHubNotReady
	}
}

// Interface guards
var (
	_ caddy.App           = (*App)(nil)
	_ caddy.Provisioner   = (*App)(nil)
	_ caddyevents.Handler = configStarted{}
)

// current returns the live hub, or nil before the config was committed
// (or when the handler's Provision failed before it had a plan: Caddy
// cleans up such modules too).
func (p *hubPlan) current() *hub.Hub {
	if p == nil {
		return nil
	}
	select {
	case <-p.ready:
		return p.hub
	default:
		return nil
	}
}
