package ssehub

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/ssehub/sse_hub/ssehub/hub"
)

func init() {
	caddy.RegisterModule(Dashboard{})
}

//go:embed dashboard/index.html
var dashboardPage []byte

// Dashboard serves a live web page about the hubs on its route: hubs,
// channels, subscriber counts, publish and delivery rates as charts,
// recent events of a chosen channel and, when allowed, a publish form.
// The page is fed by the hub itself over SSE (the route's "stats"
// sub-path), never by the admin API, and needs nothing from another
// origin: its assets are built into the module. Protect the route with
// the handlers before it, as any admin page.
//
// Paths, by their last segment: ".../stats" is the figures stream,
// ".../feed" is an sse_hub route on the dashboard's hub (GET subscribes
// with ?channel=, POST publishes as allow_publish permits); anything else
// is the page.
type Dashboard struct {
	// The hub whose channels the page can watch and publish to; the
	// figures show every hub. Default: "default".
	Hub string `json:"hub,omitempty"`

	// Channels the page's publish form may publish to (same patterns as
	// sse_hub's allow_publish). Default: none, and the form is hidden.
	AllowPublish []string `json:"allow_publish,omitempty"`

	feed *Handler // serves ".../feed": an sse_hub handler on Hub
	ctx  caddy.Context
}

// dashboardInterval is how often the figures stream checks for changes;
// unchanged figures are still sent once a second, for the rate charts.
const dashboardInterval = 250 * time.Millisecond

// dashboardChannels caps the channels sent per hub (most subscribed first).
const dashboardChannels = 50

// CaddyModule returns the Caddy module information.
func (Dashboard) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sse_hub_dashboard",
		New: func() caddy.Module { return new(Dashboard) },
	}
}

// Provision sets up the feed handler, an sse_hub handler that only names
// the hub (defined elsewhere or with default settings).
func (d *Dashboard) Provision(ctx caddy.Context) error {
	d.ctx = ctx
	if d.Hub == "" {
		d.Hub = DefaultHub
	}
	d.feed = &Handler{Hub: d.Hub, AllowPublish: d.AllowPublish}
	if err := d.feed.Provision(ctx); err != nil {
		return fmt.Errorf("dashboard feed: %v", err)
	}
	return nil
}

// Validate checks the configuration.
func (d *Dashboard) Validate() error {
	return channelRules(d.AllowPublish).validate("allow_publish")
}

// Cleanup gives back the feed handler's streams.
func (d *Dashboard) Cleanup() error {
	if d.feed == nil {
		return nil
	}
	return d.feed.Cleanup()
}

// ServeHTTP serves the page, its figures stream and its feed.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch path.Base(r.URL.Path) {
	case "feed":
		return d.feed.ServeHTTP(w, r, next)
	case "stats":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: use GET", r.Method))
		}
		d.streamStats(w, r)
		return nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: use GET", r.Method))
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	// Everything the page needs is in it; it talks only to its own origin.
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
	_, _ = w.Write(dashboardPage)
	return nil
}

// dashboardFigures is one message of the figures stream.
type dashboardFigures struct {
	Time    int64           `json:"time"` // Unix milliseconds
	Hub     string          `json:"hub"`  // the hub of the feed and the form
	Publish bool            `json:"publish"`
	Hubs    json.RawMessage `json:"hubs"` // []dashboardHub
}

type dashboardHub struct {
	Name     string            `json:"name"`
	Backend  string            `json:"backend,omitempty"`
	Totals   hub.Stats         `json:"totals"`
	Count    int               `json:"channel_count"`
	Channels []hub.ChannelInfo `json:"channels"` // at most dashboardChannels
}

// figures snapshots every hub.
func (d *Dashboard) figures() []dashboardHub {
	var out []dashboardHub
	for _, hb := range allHubs() {
		info := hb.Info()
		chans := info.Channels
		slices.SortStableFunc(chans, func(a, b hub.ChannelInfo) int { return b.Subscribers - a.Subscribers })
		out = append(out, dashboardHub{
			Name: info.Name, Backend: info.Backend, Totals: info.Totals,
			Count: len(info.Channels), Channels: chans[:min(len(chans), dashboardChannels)],
		})
	}
	slices.SortFunc(out, func(a, b dashboardHub) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// streamStats sends the figures as JSON events: at once, then whenever
// they change (checked every dashboardInterval) and at least once a second,
// until the client leaves or the config is unloaded.
func (d *Dashboard) streamStats(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	setStreamHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	exiting, unwatch := watchExit()
	defer unwatch()
	tick := time.NewTicker(dashboardInterval)
	defer tick.Stop()
	var last []byte
	var sent time.Time
	for {
		hubs, err := json.Marshal(d.figures())
		if err != nil {
			return
		}
		if !bytes.Equal(hubs, last) || time.Since(sent) >= time.Second {
			msg, _ := json.Marshal(dashboardFigures{Time: time.Now().UnixMilli(), Hub: d.Hub, Publish: len(d.AllowPublish) > 0, Hubs: hubs})
			frame := append(append([]byte("data: "), msg...), '\n', '\n')
			_ = rc.SetWriteDeadline(time.Now().Add(DefaultWriteTimeout))
			if _, err := w.Write(frame); err != nil || rc.Flush() != nil {
				return
			}
			last, sent = hubs, time.Now()
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-d.ctx.Done():
			return
		case <-exiting.Done():
			return
		}
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Dashboard)(nil)
	_ caddy.Validator             = (*Dashboard)(nil)
	_ caddy.CleanerUpper          = (*Dashboard)(nil)
	_ caddyhttp.MiddlewareHandler = (*Dashboard)(nil)
)
