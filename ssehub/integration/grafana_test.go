package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	metricName  = regexp.MustCompile(`\bcaddy_sse_hub_[a-z_]+`)
	byClause    = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	seriesLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
)

// TestGrafanaDashboardQueriesExist drives traffic through a Redis-backed
// hub (so every family is exposed, backend_up included), scrapes the
// running Caddy's admin /metrics, and checks the Grafana dashboard in
// example/grafana against it: every metric its queries name is exposed,
// every label they group by is on that metric's series, and the
// dashboard covers what an operator needs to see.
func TestGrafanaDashboardQueriesExist(t *testing.T) {
	exprs := dashboardQueries(t, filepath.Join("..", "..", "example", "grafana", "sse_hub.json"))

	prefix := clusterPrefix(t, sharedRedis)
	loadCaddyfile(t, fmt.Sprintf(`
http://%s {
	sse_hub /events/* {
		hub grafana
		channel news
		on_demand room-*
		redis %s {
			prefix %s
		}
	}
}`, siteAddr, sharedRedis, prefix))
	s := subscribe(t, "/events/news", nil)
	subscribe(t, "/events/room-1", nil)
	waitSubscribers(t, "grafana", "news", 1)
	p := publishJSON(t, `{"hub":"grafana","channel":"news","data":"x"}`)
	if ev := s.next(t); ev.LastEventID != p.ID {
		t.Fatalf("got %+v, want %s", ev, p.ID)
	}
	if status, _, _ := refused(t, "/events/bad%20name", nil); status != http.StatusBadRequest {
		t.Fatalf("a bad channel name: %d, want 400", status)
	}
	if status, _ := adminRequest(t, http.MethodPost, "/sse_hub/publish", "application/json", `{"hub":"grafana","channel":"news","event":"a\nb","data":"x"}`); status != http.StatusBadRequest {
		t.Fatalf("a bad publish: %d, want 400", status)
	}
	waitFor(t, "the hub's Redis reader to report up", 10*time.Second, func() bool {
		return scrape(t)[`caddy_sse_hub_backend_up{hub="grafana"}`] == 1
	})

	labels := map[string][]string{} // metric name -> label names on its series
	for series := range scrape(t) {
		name, rest, _ := strings.Cut(series, "{")
		for _, m := range seriesLabel.FindAllStringSubmatch(rest, -1) {
			if !slices.Contains(labels[name], m[1]) {
				labels[name] = append(labels[name], m[1])
			}
		}
		if _, ok := labels[name]; !ok {
			labels[name] = nil
		}
	}

	queried := map[string]bool{}
	for _, expr := range exprs {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("query %q names no caddy_sse_hub_ metric", expr)
		}
		for _, name := range names {
			queried[name] = true
			have, ok := labels[name]
			if !ok {
				t.Errorf("query %q: %s is not among the metrics Caddy exposes", expr, name)
				continue
			}
			for _, by := range byClause.FindAllStringSubmatch(expr, -1) {
				for _, l := range strings.Split(by[1], ",") {
					if l = strings.TrimSpace(l); !slices.Contains(have, l) {
						t.Errorf("query %q groups by %q, which %s does not carry (it has %v)", expr, l, name, have)
					}
				}
			}
		}
	}
	for _, must := range []string{
		"caddy_sse_hub_subscribers",
		"caddy_sse_hub_events_published_total",
		"caddy_sse_hub_events_delivered_total",
		"caddy_sse_hub_delivery_delay_seconds_bucket",
		"caddy_sse_hub_slow_consumer_actions_total",
		"caddy_sse_hub_connections_rejected_total",
		"caddy_sse_hub_publish_errors_total",
		"caddy_sse_hub_backend_up",
	} {
		if !queried[must] {
			t.Errorf("the dashboard does not show %s", must)
		}
	}
}

// dashboardQueries returns every PromQL expression of a Grafana dashboard:
// the panels' targets (rows' nested panels included) and the template
// variables' queries.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title      string
		Panels     []dashPanel
		Templating struct {
			List []struct {
				Type       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s is not valid JSON: %v", path, err)
	}
	var exprs []string
	var walk func([]dashPanel)
	walk = func(panels []dashPanel) {
		for _, p := range panels {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type == "query" {
			exprs = append(exprs, v.Definition)
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("%s has %d queries; is it the dashboard?", path, len(exprs))
	}
	return exprs
}

type dashPanel struct {
	Title   string
	Type    string
	Targets []struct{ Expr string }
	Panels  []dashPanel
}
