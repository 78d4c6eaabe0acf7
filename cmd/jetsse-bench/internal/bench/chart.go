package bench

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
)

// ChartOptions configure WriteChart.
type ChartOptions struct {
	Title string
	// Goals draws the goals docs/benchmarks.md measures against (3 µs
	// per delivery, 16 KiB per idle session) as dashed lines.
	Goals bool
}

// panel is one plot: y against N, a line per series.
type panel struct {
	title, unit string
	goal        float64 // 0: none
	series      map[string]map[int][]float64
}

func (p *panel) add(series string, n int, v float64) {
	if p.series == nil {
		p.series = map[string]map[int][]float64{}
	}
	if p.series[series] == nil {
		p.series[series] = map[int][]float64{}
	}
	p.series[series][n] = append(p.series[series][n], v)
}

// WriteChart writes an SVG chart of scaling runs: server CPU µs per
// delivered event and p99 latency (fanout runs) and KiB per idle session
// (idle runs), each against the number of subscribers on a log axis, with
// a line per server label (and publish rate).
func WriteChart(w io.Writer, pts []ChartPoint, o ChartOptions) error {
	cpu := &panel{title: "Server CPU per delivered event (fanout)", unit: "µs"}
	mem := &panel{title: "Server memory per idle session (idle)", unit: "KiB"}
	lat := &panel{title: "Publish → receive latency p99 (fanout)", unit: "ms"}
	if o.Goals {
		cpu.goal, mem.goal = 3, 16
	}
	for _, p := range pts {
		label := p.Label
		if label == "" {
			label = "?"
		}
		switch p.Scenario {
		case "fanout":
			s := label + " " + fmtRate(p.Params.Rate)
			if p.CPUUsPerDelivery != nil {
				cpu.add(s, p.Params.N, *p.CPUUsPerDelivery)
			}
			if p.Latency != nil && p.Latency.Count > 0 {
				lat.add(s, p.Params.N, p.Latency.P99Ms)
			}
		case "idle":
			if p.KiBPerSession != nil {
				mem.add(label, p.Params.N, *p.KiBPerSession)
			}
		}
	}
	const width, ph, top = 760, 330, 40
	panels := []*panel{cpu, mem, lat}
	var b bytes.Buffer
	height := top + len(panels)*ph
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := o.Title
	if title == "" {
		title = "jetsse-bench scaling runs"
	}
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold" text-anchor="middle">%s</text>`+"\n", width/2, html.EscapeString(title))
	for i, p := range panels {
		p.draw(&b, 0, top+i*ph, width, ph)
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

func (p *panel) draw(b *bytes.Buffer, x0, y0, w, h int) {
	const ml, mr, mt, mb = 70, 170, 30, 45
	px0, px1 := float64(x0+ml), float64(x0+w-mr)
	py0, py1 := float64(y0+h-mb), float64(y0+mt) // bottom, top
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", x0+ml, y0+mt-10, html.EscapeString(p.title))
	fmt.Fprintf(b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`+"\n", px0, py1, px1-px0, py0-py1)

	names := make([]string, 0, len(p.series))
	minN, maxN, maxY := math.Inf(1), math.Inf(-1), p.goal
	for name, byN := range p.series {
		names = append(names, name)
		for n, vs := range byN {
			minN, maxN = math.Min(minN, float64(n)), math.Max(maxN, float64(n))
			for _, v := range vs {
				maxY = math.Max(maxY, v)
			}
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle" fill="#666">no data</text>`+"\n", (px0+px1)/2, (py0+py1)/2)
		return
	}
	// x: log10 of N, padded; y: 0 .. a nice maximum.
	lx0, lx1 := math.Log10(max(minN, 1))-0.15, math.Log10(max(maxN, 1))+0.15
	step := niceStep(maxY / 5)
	ymax := math.Max(step*math.Ceil(maxY*1.05/step), step)
	xp := func(n float64) float64 { return px0 + (math.Log10(max(n, 1))-lx0)/(lx1-lx0)*(px1-px0) }
	yp := func(v float64) float64 { return py0 - v/ymax*(py0-py1) }

	for e := math.Ceil(lx0); e <= lx1; e++ {
		x := xp(math.Pow(10, e))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/>`+"\n", x, py0, x, py1)
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x, py0+16, fmtN(math.Pow(10, e)))
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle">subscribers (N, log scale)</text>`+"\n", (px0+px1)/2, py0+34)
	for v := 0.0; v <= ymax+step/2; v += step {
		y := yp(v)
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#eee"/>`+"\n", px0, y, px1, y)
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", px0-6, y+4, strconv.FormatFloat(v, 'g', 4, 64))
	}
	fmt.Fprintf(b, `<text x="%d" y="%g" text-anchor="middle" transform="rotate(-90 %d %g)">%s</text>`+"\n",
		x0+18, (py0+py1)/2, x0+18, (py0+py1)/2, html.EscapeString(p.unit))
	if p.goal > 0 {
		y := yp(p.goal)
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#333" stroke-dasharray="6 4"/>`+"\n", px0, y, px1, y)
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end" fill="#333">goal %g %s</text>`+"\n", px1-4, y-4, p.goal, html.EscapeString(p.unit))
	}
	for i, name := range names {
		color := palette[i%len(palette)]
		byN := p.series[name]
		ns := make([]int, 0, len(byN))
		for n := range byN {
			ns = append(ns, n)
		}
		slices.Sort(ns)
		var path bytes.Buffer
		for j, n := range ns {
			vs := byN[n]
			var sum float64
			for _, v := range vs {
				sum += v
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s N=%d: %g %s</title></circle>`+"\n",
					xp(float64(n)), yp(v), color, html.EscapeString(name), n, v, html.EscapeString(p.unit))
			}
			cmd := "L"
			if j == 0 {
				cmd = "M"
			}
			mean := sum / float64(len(vs))
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, xp(float64(n)), yp(mean))
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="10" fill="%s">%s</text>`+"\n",
				xp(float64(n))+5, yp(mean)-5, color, strconv.FormatFloat(mean, 'g', 3, 64))
		}
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", bytes.TrimSpace(path.Bytes()), color)
		ly := py1 + 14 + float64(i)*18
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", px1+12, ly-4, px1+30, ly-4, color)
		fmt.Fprintf(b, `<text x="%g" y="%.1f">%s</text>`+"\n", px1+36, ly, html.EscapeString(name))
	}
}

// niceStep rounds a raw axis step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	}
	return 10 * p
}

func fmtN(n float64) string {
	switch {
	case n >= 1e6:
		return strconv.FormatFloat(n/1e6, 'g', 3, 64) + "M"
	case n >= 1e3:
		return strconv.FormatFloat(n/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(n, 'g', 3, 64)
}
