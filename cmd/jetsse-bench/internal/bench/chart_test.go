package bench

import (
	"bytes"
	"strings"
	"testing"
)

func TestChart(t *testing.T) {
	u := func(v float64) *float64 { return &v }
	var pts []ChartPoint
	for i, n := range []int{100, 1000, 10000} {
		p := ChartPoint{Scenario: "fanout", Label: "jetsse", CPUUsPerDelivery: u(float64(i + 1)), Latency: &Latency{Count: 1, P99Ms: 3}}
		p.Params.N = n
		pts = append(pts, p)
		q := ChartPoint{Scenario: "idle", Label: "peer<&>", KiBPerSession: u(40)}
		q.Params.N = n
		pts = append(pts, q)
	}
	var b bytes.Buffer
	if err := WriteChart(&b, pts, ChartOptions{Goals: true}); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	for _, want := range []string{"<svg", "jetsse max", "peer&lt;&amp;&gt;", "goal 3 µs", "10k", "</svg>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Error("chart has NaN or Inf coordinates")
	}
}
