package app_test

import (
	"fmt"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// latencyQuantiles are the points of the latency plot.
var latencyQuantiles = []float64{0.5, 0.75, 0.9, 0.95, 0.99}

// plotLatency draws each front's one-way message latency at latencyQuantiles
// (x: the percentile, y: µs) into path, in the order of names.
func plotLatency(path string, names []string, samples map[string]durations) error {
	p := plot.New()
	p.Title.Text = "One-way message latency by percentile (same run)"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "µs"
	p.Y.Min = 0
	var lines []any
	for _, name := range names {
		d, ok := samples[name]
		if !ok || len(d) == 0 {
			continue
		}
		var xy plotter.XYs
		for _, q := range latencyQuantiles {
			xy = append(xy, plotter.XY{X: 100 * q, Y: float64(d.percentile(q)) / float64(time.Microsecond)})
		}
		lines = append(lines, fmt.Sprintf("%s (n=%d)", name, len(d)), xy)
	}
	if len(lines) == 0 {
		return fmt.Errorf("no latency samples to plot")
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	p.X.Tick.Marker = plot.ConstantTicks(slices.Collect(func(yield func(plot.Tick) bool) {
		for _, q := range latencyQuantiles {
			if !yield(plot.Tick{Value: 100 * q, Label: fmt.Sprintf("p%g", 100*q)}) {
				return
			}
		}
	}))
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(16*vg.Centimeter, 10*vg.Centimeter, path)
}
