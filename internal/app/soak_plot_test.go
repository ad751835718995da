package app_test

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotSoak draws the proxy's goroutines and heap over the run, one panel
// each, with the run's events as vertical lines.
func plotSoak(path string, samples []soakSample, events []soakEvent, sessions int) error {
	var gs, hs plotter.XYs
	for _, s := range samples {
		gs = append(gs, plotter.XY{X: s.at.Seconds(), Y: float64(s.goroutines)})
		hs = append(hs, plotter.XY{X: s.at.Seconds(), Y: mib(s.heap)})
	}
	top, err := soakPanel(fmt.Sprintf("Proxy during the soak (%d sessions): goroutines", sessions), "goroutines", gs, events)
	if err != nil {
		return err
	}
	bottom, err := soakPanel("live heap after GC", "MiB", hs, events)
	if err != nil {
		return err
	}
	bottom.X.Label.Text = "seconds"
	img := vgimg.New(18*vg.Centimeter, 16*vg.Centimeter)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Centimeter / 2, PadX: vg.Centimeter / 4, PadTop: vg.Centimeter / 4, PadBottom: vg.Centimeter / 4}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func soakPanel(title, unit string, xy plotter.XYs, events []soakEvent) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Y.Min = 0
	line, err := plotter.NewLine(xy)
	if err != nil {
		return nil, err
	}
	line.Color = color.RGBA{B: 200, A: 255}
	p.Add(line)
	top := 0.0
	for _, v := range xy {
		top = max(top, v.Y)
	}
	var labels plotter.XYLabels
	for _, e := range events {
		x := e.at.Seconds()
		mark, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top * 1.05}})
		if err != nil {
			return nil, err
		}
		mark.Color = color.Gray{Y: 150}
		mark.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(mark)
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: top * 1.05})
		labels.Labels = append(labels.Labels, e.name)
	}
	if len(labels.XYs) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Rotation = 1.5708 // vertical, so neighbouring events stay legible
			l.TextStyle[i].Font.Size = vg.Points(7)
		}
		p.Add(l)
	}
	return p, nil
}
