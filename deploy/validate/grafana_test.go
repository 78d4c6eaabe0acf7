package validate

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// jetsseMetrics is every metric family jetsse exposes that dashboards may
// use. The main module checks these names against the live /metrics output;
// this test checks the dashboard uses no other.
var jetsseMetrics = map[string]string{ // name -> type
	"jetsse_connections":                        "gauge",
	"jetsse_sessions_created_total":             "counter",
	"jetsse_sessions_resumed_total":             "counter",
	"jetsse_sessions_stored":                    "gauge",
	"jetsse_sessions_expired_total":             "counter",
	"jetsse_takeovers_total":                    "counter",
	"jetsse_gaps_total":                         "counter",
	"jetsse_events_delivered_total":             "counter",
	"jetsse_events_replayed_total":              "counter", // {source}
	"jetsse_delivery_lag_seconds":               "histogram",
	"jetsse_slow_client_disconnects_total":      "counter",
	"jetsse_write_errors_total":                 "counter",
	"jetsse_checkpoints_total":                  "counter", // {result}
	"jetsse_events_published_total":             "counter",
	"jetsse_request_duration_seconds":           "histogram", // {method,outcome}
	"jetsse_rejected_requests_total":            "counter",   // {reason}
	"jetsse_cache_events":                       "gauge",
	"jetsse_cache_bytes":                        "gauge",
	"jetsse_events_read_total":                  "counter",
	"jetsse_stream_messages":                    "gauge",
	"jetsse_stream_bytes":                       "gauge",
	"jetsse_stream_max_msgs":                    "gauge",
	"jetsse_stream_max_bytes":                   "gauge",
	"jetsse_stream_max_age_seconds":             "gauge",
	"jetsse_stream_first_seq":                   "gauge",
	"jetsse_stream_last_seq":                    "gauge",
	"jetsse_stream_consumers":                   "gauge",
	"jetsse_jetstream_requests_total":           "counter",   // {op,result}
	"jetsse_jetstream_request_duration_seconds": "histogram", // {op}
	"jetsse_limit_hits_total":                   "counter",   // {limit}
	// The Go and process collectors, registered with the jetsse_ prefix.
	"jetsse_process_resident_memory_bytes": "gauge",
	"jetsse_process_cpu_seconds_total":     "counter",
	"jetsse_go_goroutines":                 "gauge",
}

var metricName = regexp.MustCompile(`\bjetsse_[a-zA-Z0-9_]+`)

// dashboardMetric maps a series name used in PromQL to its family.
func dashboardMetric(series string) (string, bool) {
	if typ, ok := jetsseMetrics[series]; ok {
		return series, typ != "histogram"
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(series, suffix); ok && jetsseMetrics[base] == "histogram" {
			return base, true
		}
	}
	return "", false
}

func TestGrafanaDashboard(t *testing.T) {
	var dash map[string]any
	if err := json.Unmarshal([]byte(readFile(t, "deploy/grafana/jetsse-dashboard.json")), &dash); err != nil {
		t.Fatalf("jetsse-dashboard.json is not valid JSON: %v", err)
	}

	// The datasource is a template variable.
	var dsVar string
	templating, _ := dash["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		v, _ := v.(map[string]any)
		if v["type"] == "datasource" && v["query"] == "prometheus" {
			dsVar, _ = v["name"].(string)
		}
	}
	if dsVar == "" {
		t.Fatal("no datasource template variable of type prometheus")
	}
	isVarRef := func(ds any) bool {
		m, ok := ds.(map[string]any)
		if !ok {
			return false
		}
		uid, _ := m["uid"].(string)
		return uid == "${"+dsVar+"}" || uid == "$"+dsVar
	}

	used := map[string]bool{}
	var exprs []string
	for _, v := range vars {
		v, _ := v.(map[string]any)
		if v["type"] == "query" {
			if !isVarRef(v["datasource"]) {
				t.Errorf("template variable %v does not use the datasource variable", v["name"])
			}
			if q, ok := v["query"].(map[string]any); ok {
				s, _ := q["query"].(string)
				exprs = append(exprs, s)
			} else if s, ok := v["query"].(string); ok {
				exprs = append(exprs, s)
			}
		}
	}

	var panels []map[string]any
	var walk func([]any)
	walk = func(list []any) {
		for _, p := range list {
			p, ok := p.(map[string]any)
			if !ok {
				continue
			}
			panels = append(panels, p)
			if sub, ok := p["panels"].([]any); ok {
				walk(sub)
			}
		}
	}
	top, _ := dash["panels"].([]any)
	walk(top)
	if len(panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	ids := map[float64]bool{}
	for _, p := range panels {
		title, _ := p["title"].(string)
		if id, _ := p["id"].(float64); ids[id] {
			t.Errorf("panel %q: duplicate id %v", title, id)
		} else {
			ids[id] = true
		}
		if !isVarRef(p["datasource"]) {
			t.Errorf("panel %q: datasource %v, want {\"uid\": \"${%s}\"}", title, p["datasource"], dsVar)
		}
		targets, _ := p["targets"].([]any)
		if p["type"] != "row" && len(targets) == 0 {
			t.Errorf("panel %q has no queries", title)
		}
		for _, tg := range targets {
			tg, _ := tg.(map[string]any)
			if ds, ok := tg["datasource"]; ok && !isVarRef(ds) {
				t.Errorf("panel %q: a query's datasource %v is not the variable", title, ds)
			}
			expr, _ := tg["expr"].(string)
			if expr == "" {
				t.Errorf("panel %q: a query has no expr", title)
			}
			exprs = append(exprs, expr)
		}
	}

	var unknown []string
	for _, e := range exprs {
		for _, series := range metricName.FindAllString(e, -1) {
			family, ok := dashboardMetric(series)
			if !ok {
				unknown = append(unknown, series)
				continue
			}
			used[family] = true
			if jetsseMetrics[family] == "counter" && !regexp.MustCompile(`(rate|increase)\(`+series+`\b`).MatchString(e) {
				t.Errorf("counter %s used without rate() or increase(): %s", series, e)
			}
			if jetsseMetrics[family] == "histogram" && !strings.Contains(e, "histogram_quantile") && strings.HasSuffix(series, "_bucket") {
				t.Errorf("histogram buckets %s used outside histogram_quantile: %s", series, e)
			}
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		t.Errorf("the dashboard uses metrics jetsse does not expose: %v", slices.Compact(unknown))
	}

	// Every family the brief asks for is on the dashboard.
	var unused []string
	for name := range jetsseMetrics {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("no panel shows %v", unused)
	}
}
