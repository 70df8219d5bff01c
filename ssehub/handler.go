package ssehub

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lean"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler serves server-sent-event streams of a hub's channels to
// EventSource clients. A GET names one or more channels (see ChannelFrom
// and ChannelQuery); the response is a text/event-stream that first replays
// what the client missed (Last-Event-ID) and then carries live events until
// the client leaves, the channel is closed, or the config is unloaded.
//
// Every handler naming the same hub shares its channels, history and ID
// sequence, as does the admin API. The hub is defined in the sse_hub app
// or, in the short form, by hub options in the handler itself.
type Handler struct {
	// The hub to serve. Default: "default".
	Hub string `json:"hub,omitempty"`

	// The hub's settings, in the short form: a handler that sets any of
	// them defines its hub, which no other definition may contradict.
	// A handler that sets none only names its hub, defined in the sse_hub
	// app (the global sse_hub option) or by another handler.
	HubConfig

	// How long one write to a client may take; a client that stops reading
	// is disconnected when it passes. Default: 10s. While a stream runs it
	// takes over the server's write idle timeout (write_idle), so the
	// smaller of the two applies to its writes.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`

	// If set, a stream is closed after this long (minus up to 10% jitter)
	// so clients reconnect and rebalance across nodes; they resume with
	// Last-Event-ID and lose nothing. Default: 0, no limit.
	MaxLifetime caddy.Duration `json:"max_lifetime,omitempty"`

	// When a config reload unloads this handler, its open streams keep
	// receiving events and are closed at random moments spread over this
	// window (each after a "retry:" hint), so clients do not all reconnect
	// at once. On shutdown streams close at once. Default: 1s.
	ReloadDrain *caddy.Duration `json:"reload_drain,omitempty"`

	// Where a request's channels come from: templates with Caddy
	// placeholders, each evaluating to one channel name or a comma-separated
	// list (empty results are ignored), e.g. "{http.request.uri.path.1}" or
	// "user-{http.auth.user.id}". Default: none, and then a request that
	// names no channel in its query subscribes to the last segment of its
	// path ("/events/news" -> "news").
	ChannelFrom []string `json:"channel_from,omitempty"`

	// The query parameter naming channels; it may repeat and hold
	// comma-separated names ("?channel=a&channel=b,c"). Default: "channel".
	ChannelQuery string `json:"channel_query,omitempty"`

	// The query parameter carrying a Last-Event-ID for clients that cannot
	// set the header; the header wins when both are present.
	// Default: "last_event_id".
	LastEventIDQuery string `json:"last_event_id_query,omitempty"`

	// Channels a request may subscribe to: patterns with '*' and Caddy
	// placeholders, e.g. "user-{http.auth.user.id}" and "public-*". A
	// request naming any other channel gets 403 (without saying whether
	// the channel exists). A placeholder that is empty or not a valid
	// channel name voids its pattern. Default: any channel.
	AllowSubscribe []string `json:"allow_subscribe,omitempty"`

	// Enables publishing with a POST on this route (same bodies as the
	// admin API, to this hub only) for the channels these patterns allow
	// (same syntax as allow_subscribe). Protect the route with the handlers
	// before it. Default: none, POST is refused.
	AllowPublish []string `json:"allow_publish,omitempty"`

	// Origins allowed to use this route from other sites (cross-origin
	// EventSource, withCredentials included, and publishing); "*" allows
	// any. Each is scheme://host[:port]. A browser's POST from any other
	// origin but the route's own is refused with 403. Default: none.
	CORSOrigins []string `json:"cors_origins,omitempty"`

	// The reconnection delay sent to clients in the first "retry:" line.
	// Default: 3s.
	Retry caddy.Duration `json:"retry,omitempty"`

	// How often an idle stream gets a comment line, which keeps proxies
	// from closing it and lets a vanished client be noticed. Default: 15s.
	Heartbeat caddy.Duration `json:"heartbeat,omitempty"`

	// Serve HTTP/1.1 subscribers (plain, or over TLS on Linux) on the lean
	// path: once every check has passed, the connection is taken over from
	// net/http and parked in the module, which writes to it from a few shared goroutines. An idle
	// stream then costs about 3 kB instead of about 40 kB. Headers set by
	// earlier handlers are sent; "encode" does not apply, and the access
	// log records the hand-off, not the whole stream. HTTP/2 and HTTP/3
	// requests take the normal path: to have browsers use HTTP/1.1 over
	// TLS, give the events site "tls { alpn http/1.1 }". Default: off.
	Lean bool `json:"lean,omitempty"`

	plan        *hubPlan                    // the hub this config wants, live once committed
	lean        *lean.Engine                // nil unless Lean
	crossOrigin *http.CrossOriginProtection // nil when cors_origins has "*"
	ctx         caddy.Context
	logger      *zap.Logger
	warnings    *rateLimitedWarnings
}

// Defaults of the handler's own options.
const (
	DefaultHub              = "default"
	DefaultChannelQuery     = "channel"
	DefaultLastEventIDQuery = "last_event_id"
	DefaultRetry            = 3 * time.Second
	DefaultHeartbeat        = 15 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultReloadDrain      = time.Second
)

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sse_hub",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision fills defaults and tells the sse_hub app which hub the handler
// serves (and how it is defined, in the short form). It changes no running
// hub: the app applies the config once it is live.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.ctx = ctx
	h.logger = ctx.Logger()
	h.warnings = new(rateLimitedWarnings)
	if h.Hub == "" {
		h.Hub = DefaultHub
	}
	if h.ChannelQuery == "" {
		h.ChannelQuery = DefaultChannelQuery
	}
	if h.LastEventIDQuery == "" {
		h.LastEventIDQuery = DefaultLastEventIDQuery
	}
	if h.Retry == 0 {
		h.Retry = caddy.Duration(DefaultRetry)
	}
	if h.Heartbeat == 0 {
		h.Heartbeat = caddy.Duration(DefaultHeartbeat)
	}
	if h.WriteTimeout == 0 {
		h.WriteTimeout = caddy.Duration(DefaultWriteTimeout)
	}
	if h.ReloadDrain == nil {
		d := caddy.Duration(DefaultReloadDrain)
		h.ReloadDrain = &d
	}
	if err := h.Validate(); err != nil {
		return err
	}
	h.crossOrigin, _ = newCrossOriginProtection(h.CORSOrigins) // checked by Validate
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	app, err := ctx.App("sse_hub")
	if err != nil {
		return fmt.Errorf("loading the sse_hub app: %v", err)
	}
	if h.plan, err = app.(*App).define(h.Hub, &h.HubConfig, h.HubConfig.describe()); err != nil {
		return err
	}
	if h.Lean {
		if lean.Supported {
			h.lean = h.newLeanEngine()
		} else {
			h.logger.Warn("lean is not supported on this platform (it needs Unix); streams take the normal path")
		}
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if err := hub.ValidateHubName(h.Hub); err != nil {
		return err
	}
	if _, err := h.HubConfig.settings(); err != nil {
		return err
	}
	for name, d := range map[string]caddy.Duration{"retry": h.Retry, "heartbeat": h.Heartbeat, "write_timeout": h.WriteTimeout, "max_lifetime": h.MaxLifetime} {
		if d < 0 {
			return fmt.Errorf("%s must not be negative", name)
		}
	}
	if h.ReloadDrain != nil && *h.ReloadDrain < 0 {
		return fmt.Errorf("reload_drain must not be negative")
	}
	if err := channelRules(h.AllowSubscribe).validate("allow_subscribe"); err != nil {
		return err
	}
	if _, err := newCrossOriginProtection(h.CORSOrigins); err != nil {
		return err
	}
	return channelRules(h.AllowPublish).validate("allow_publish")
}

// Cleanup drains the handler's lean streams; the sse_hub app gives the hub
// back, and the pool closes it when no config uses it any more.
func (h *Handler) Cleanup() error {
	hb := h.plan.current()
	if hb == nil {
		return nil
	}
	if n := hb.Subscribers(); n > 0 && !caddy.Exiting() {
		h.logger.Info("config unloaded; its open streams keep going and close spread over the drain window",
			zap.String("hub", h.Hub), zap.Int("hub_subscribers", n), zap.Duration("reload_drain", time.Duration(*h.ReloadDrain)))
	}
	if h.lean != nil {
		if caddy.Exiting() {
			h.lean.Shutdown(time.Second)
		} else {
			h.lean.Drain(time.Duration(*h.ReloadDrain))
		}
	}
	return nil
}

// ServeHTTP streams the requested channels.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if h.applyCORS(w, r) {
		return nil
	}
	hb, err := h.plan.live(r.Context(), h.ctx.Done())
	if err != nil {
		h.setRetryAfter(w)
		return h.refuse(w, r, http.StatusServiceUnavailable, "not_ready", err)
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	switch {
	case r.Method == http.MethodPost && len(h.AllowPublish) > 0:
		return h.publishOnRoute(w, r, repl, hb)
	case r.Method != http.MethodGet:
		allow := strings.Join(h.methods(), ", ")
		w.Header().Set("Allow", allow)
		return h.refuse(w, r, http.StatusMethodNotAllowed, "method", fmt.Errorf("method %s not allowed: use %s", r.Method, allow))
	}
	names, err := h.channelsOf(r, repl)
	if err != nil {
		return h.refuse(w, r, http.StatusBadRequest, "bad_request", err)
	}
	if denied, ok := channelRules(h.AllowSubscribe).allows(repl, names); !ok {
		return h.refuse(w, r, http.StatusForbidden, "forbidden", fmt.Errorf("not allowed to subscribe to channel %q", denied))
	}
	if err := h.plan.settings.checkHeap(); err != nil {
		h.setRetryAfter(w)
		return h.refuse(w, r, http.StatusServiceUnavailable, "max_heap", err)
	}
	client, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	lastEventID := h.lastEventID(r)
	req := hub.SubscribeRequest{Channels: names, LastEventID: lastEventID, Client: client}
	hijacker, leanConn := h.prepareLean(w, r)
	if leanConn != nil {
		req.Notify = leanConn.Notify
	}
	sub, err := hb.Subscribe(req)
	if err != nil {
		return h.refuseSubscription(w, r, err)
	}
	if leanConn != nil {
		h.serveLean(w, r, repl, hijacker, leanConn, sub, names, client)
		return nil
	}
	defer sub.Close()

	// Connection logging costs per-connection memory (a logger with its
	// fields) for the stream's whole life, so only when debug is on.
	if !h.logger.Core().Enabled(zap.DebugLevel) {
		countStreamClosed(h.Hub, pathNormal, h.stream(w, r, sub))
		return nil
	}
	log := h.logger.With(connectionFields(r, repl)...)
	log.Debug("stream opened", zap.String("hub", h.Hub), zap.Strings("channels", names),
		zap.String("client_ip", client), zap.String("last_event_id", lastEventID))
	start := time.Now()
	reason := h.stream(w, r, sub)
	countStreamClosed(h.Hub, pathNormal, reason)
	log.Debug("stream closed", zap.String("reason", string(reason)), zap.Duration("duration", time.Since(start)))
	return nil
}

// refuse answers a subscribe request that cannot be served with a plain
// text reason, so whoever debugs an EventSource sees why in the network
// panel (Caddy's default error response has an empty body). It counts the
// refusal and logs limit refusals at warn, rate-limited.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, reason string, err error) error {
	countRejected(h.Hub, reason)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests || status == http.StatusConflict {
		h.warnings.warn(h.logger, reason, "subscriber refused by a limit", zap.String("hub", h.Hub), zap.Int("status", status), zap.Error(err))
	} else {
		h.logger.Debug("subscribe refused", zap.Int("status", status), zap.String("reason", reason), zap.Error(err), zap.String("uri", r.RequestURI))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, err.Error()+"\n")
	return nil
}

// refuseSubscription answers a subscription the hub refused.
func (h *Handler) refuseSubscription(w http.ResponseWriter, r *http.Request, err error) error {
	status := statusOf(err)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		h.setRetryAfter(w)
	}
	return h.refuse(w, r, status, hub.Reason(err), err)
}

// setRetryAfter tells a refused client when to come back: the retry
// delay, at least a second. Note that a browser's EventSource does not
// retry after an error status; the page must reconnect itself.
func (h *Handler) setRetryAfter(w http.ResponseWriter) {
	secs := max(1, int((time.Duration(h.Retry)+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}

// lastEventID reads the header, or the query parameter for clients that
// cannot set headers.
func (h *Handler) lastEventID(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	return r.URL.Query().Get(h.LastEventIDQuery)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
