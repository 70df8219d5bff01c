package ssehub

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ssehub/sse_hub/ssehub/hub"
	"github.com/ssehub/sse_hub/ssehub/lifecycle"
)

// Metrics are created once per process and registered into the registry
// of every config load (Caddy makes a new one each time), so their values
// survive reloads. Hub totals are read from the hubs at scrape time (the
// hubs outlive configs too), which keeps the per-event cost to the core's
// own atomic counters; only refusals, which are off the hot path, use
// counters here.
var promMetrics struct {
	once          sync.Once
	hubs          *hubCollector
	rejected      *prometheus.CounterVec
	publishErrors *prometheus.CounterVec
	panics        *prometheus.CounterVec
	streamsClosed *prometheus.CounterVec
}

const metricsNamespace = "caddy_sse_hub"

func initMetrics() {
	promMetrics.once.Do(func() {
		promMetrics.hubs = newHubCollector()
		promMetrics.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricsNamespace + "_connections_rejected_total",
			Help: "Subscribe requests refused, by hub and reason (the limit's config name, bad_request, not_found, method, closed).",
		}, []string{"hub", "reason"})
		promMetrics.publishErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricsNamespace + "_publish_errors_total",
			Help: "Publish requests refused, by hub (empty when the hub does not exist) and reason.",
		}, []string{"hub", "reason"})
		promMetrics.panics = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricsNamespace + "_panics_total",
			Help: "Panics recovered in the module's goroutines, by goroutine (lean_worker, lean_poller, lean_ticker, redis_follower, redis_client_retire, hub_janitor, hub_fanout, exit_watcher); each ended only what it was serving.",
		}, []string{"where"})
		promMetrics.streamsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricsNamespace + "_streams_closed_total",
			Help: "Streams ended, by hub, path (normal or lean) and reason (client_gone, write_error, slow_consumer, closed_by_hub, shutdown, reload_drain, max_lifetime, internal_error).",
		}, []string{"hub", "path", "reason"})
	})
}

// registerMetrics adds the process-wide collectors to a config's registry.
func registerMetrics(reg *prometheus.Registry) error {
	initMetrics()
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{promMetrics.hubs, promMetrics.rejected, promMetrics.publishErrors, promMetrics.panics, promMetrics.streamsClosed} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// countRejected counts a refused subscribe request.
func countRejected(hubName, reason string) {
	initMetrics()
	promMetrics.rejected.WithLabelValues(hubName, reason).Inc()
}

// countPublishError counts a refused publish request; hubName must be a
// live hub or "", so the label set stays bounded.
func countPublishError(hubName, reason string) {
	initMetrics()
	promMetrics.publishErrors.WithLabelValues(hubName, reason).Inc()
}

// countPanic counts a recovered panic; where is from a fixed set.
func countPanic(where string) {
	initMetrics()
	promMetrics.panics.WithLabelValues(where).Inc()
}

// The paths a stream takes, for the path label.
const (
	pathNormal = "normal"
	pathLean   = "lean"
)

// countStreamClosed counts an ended stream; the hub is a configured one,
// path and reason come from fixed sets.
func countStreamClosed(hubName, path string, reason lifecycle.EndReason) {
	initMetrics()
	promMetrics.streamsClosed.WithLabelValues(hubName, path, string(reason)).Inc()
}

// hubCollector exports every live hub's totals at scrape time.
type hubCollector struct {
	subscribers, lean, channels, history     *prometheus.Desc
	channelSubscribers, channelHistory       *prometheus.Desc
	accepted, published, delivered, replayed *prometheus.Desc
	bytes, slow, skipped, gaps, delay        *prometheus.Desc
	backendUp                                *prometheus.Desc
}

func newHubCollector() *hubCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricsNamespace+"_"+name, help, labels, nil)
	}
	return &hubCollector{
		subscribers:        d("subscribers", "Open streams.", "hub"),
		lean:               d("lean_subscribers", "Open streams on the lean path (parked connections); sse_hub_subscribers includes them.", "hub"),
		channels:           d("channels", "Channels, by kind (declared or on_demand).", "hub", "kind"),
		history:            d("history_events", "Events held in history across the hub's channels.", "hub"),
		channelSubscribers: d("channel_subscribers", "Open streams of a declared channel.", "hub", "channel"),
		channelHistory:     d("channel_history_events", "Events held in a declared channel's history.", "hub", "channel"),
		accepted:           d("connections_accepted_total", "Subscribe requests accepted.", "hub"),
		published:          d("events_published_total", "Events accepted by publish.", "hub"),
		delivered:          d("events_delivered_total", "Events handed to subscribers' connections (one per subscriber per event), replays included.", "hub"),
		replayed:           d("events_replayed_total", "Events delivered from history to resuming subscribers.", "hub"),
		bytes:              d("bytes_written_total", "Bytes of events written to subscribers.", "hub"),
		slow:               d("slow_consumer_actions_total", "Slow-consumer policy actions: streams disconnected (disconnect) or backlogs skipped (latest).", "hub", "policy"),
		skipped:            d("events_skipped_total", "Events dropped from slow subscribers' backlogs by the latest policy.", "hub"),
		gaps:               d("gap_events_total", "sse_hub.gap events sent, by reason.", "hub", "reason"),
		delay:              d("delivery_delay_seconds", "Delay from publish accepted to the event handed to a subscriber's connection (live events only).", "hub"),
		backendUp:          d("backend_up", "1 while the hub's Redis backend answers its reader, 0 while it is unreachable; absent for hubs kept in memory.", "hub"),
	}
}

// Describe implements prometheus.Collector.
func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.subscribers, c.lean, c.channels, c.history, c.channelSubscribers, c.channelHistory,
		c.accepted, c.published, c.delivered, c.replayed, c.bytes, c.slow, c.skipped, c.gaps, c.delay, c.backendUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	for _, hb := range allHubs() {
		c.collectHub(ch, hb)
	}
}

func (c *hubCollector) collectHub(ch chan<- prometheus.Metric, hb *hub.Hub) {
	name := hb.Name()
	st := hb.Stats()
	info := hb.Info()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.subscribers, float64(st.Subscribers), name)
	gauge(c.lean, float64(st.CallbackSubscribers), name)
	if attached, up := hb.BackendStatus(); attached {
		v := 0.0
		if up {
			v = 1
		}
		gauge(c.backendUp, v, name)
	}
	declared, history := 0, 0
	for _, chInfo := range info.Channels {
		history += chInfo.HistoryLength
		if chInfo.Declared {
			declared++
			gauge(c.channelSubscribers, float64(chInfo.Subscribers), name, chInfo.Name)
			gauge(c.channelHistory, float64(chInfo.HistoryLength), name, chInfo.Name)
		}
	}
	gauge(c.channels, float64(declared), name, "declared")
	gauge(c.channels, float64(len(info.Channels)-declared), name, "on_demand")
	gauge(c.history, float64(history), name)
	counter(c.accepted, st.Accepted, name)
	counter(c.published, st.Published, name)
	counter(c.delivered, st.Delivered, name)
	counter(c.replayed, st.Replayed, name)
	counter(c.bytes, st.BytesDelivered, name)
	counter(c.slow, st.SlowDisconnects, name, "disconnect")
	counter(c.slow, st.Gaps[hub.GapSkipped], name, "latest")
	counter(c.skipped, st.Skipped, name)
	for reason, n := range st.Gaps {
		counter(c.gaps, n, name, reason)
	}
	buckets := make(map[float64]uint64, len(hub.DelayBuckets))
	var cumulative uint64
	for i, upper := range hub.DelayBuckets {
		cumulative += st.DelayCounts[i]
		buckets[upper] = cumulative
	}
	total := cumulative + st.DelayCounts[len(hub.DelayBuckets)]
	ch <- prometheus.MustNewConstHistogram(c.delay, total, st.DelaySum.Seconds(), buckets, name)
}

// Interface guards
var _ prometheus.Collector = (*hubCollector)(nil)
