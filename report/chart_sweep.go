package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/geocloak/geocloak/config"
)

// Series colours per resolution pair (Okabe-Ito: distinguishable with colour-blindness)
// and dashes per window size.
var (
	seriesColors = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}
	seriesDashes = []string{"2 3", "", "8 4", "1 2 6 2", "12 3"}
)

type tickView struct {
	Pos   string // x (x axis) or y (y axis)
	Label string
}

type pointView struct {
	X, Y  string
	Title string
	D     string // the configured marker's outline (a diamond)
}

type seriesView struct {
	Path   string
	Color  string
	Dash   string
	Points []pointView
}

// chartView is one sweep chart: a y figure against k, one line per (resolutions, window).
type chartView struct {
	Title          string
	W, H           string
	X0, X1, Y0, Y1 string // plot area
	XTicks, YTicks []tickView
	Series         []seriesView
	Configured     *pointView
	ConfLabelX     string
	XLabel, YLabel string
}

// legendLine is one entry of the sweep legend.
type legendLine struct {
	Color, Dash, Label string
}

// sweepView is the sweep of one partner.
type sweepView struct {
	Rate, Area      chartView
	ResLegend       []legendLine
	WindowLegend    []legendLine
	Rows            []sweepRow
	ConfiguredInRun bool
	// Advice is "what to change": one or two settings in plain words; NoAdvice says why
	// there is none.
	Advice   []string
	NoAdvice string
	DP       bool // the partner's noise is random: each grid point is one draw
}

type sweepRow struct {
	Class, Mark                                     string // the configured policy, and grid points with its settings
	Window, Res, K                                  string
	Released, Rate, Area, BelowK, Cap, Classes, Min string
}

const (
	chartW, chartH             = 540.0, 300.0
	plotL, plotR, plotT, plotB = 58.0, 12.0, 12.0, 44.0
	configuredMarkerR          = 7.0
	areaFloorKm2               = 1e-3
	rateTicks                  = 4
)

func buildSweepView(s *Sweep, cfg *config.Config, partner int) *sweepView {
	pts := s.partnerPoints(partner)
	if len(pts) == 0 {
		return nil
	}
	sv := &sweepView{}
	sv.Advice, sv.NoAdvice = advice(pts, cfg, partner)
	var ks []int
	for _, p := range pts {
		ks = append(ks, p.K)
	}
	kmin, kmax := slices.Min(ks), slices.Max(ks)
	x0, x1 := plotL, chartW-plotR
	y0, y1 := plotT, chartH-plotB
	xOf := func(k int) float64 {
		if kmax == kmin {
			return (x0 + x1) / 2
		}
		const in = 14 // keep end points off the axes
		return x0 + in + (math.Log(float64(k))-math.Log(float64(kmin)))/(math.Log(float64(kmax))-math.Log(float64(kmin)))*(x1-x0-2*in)
	}
	var xt []tickView
	uk := slices.Compact(slices.Sorted(slices.Values(ks)))
	for _, k := range uk {
		xt = append(xt, tickView{Pos: fixed(xOf(k), 1), Label: strconv.Itoa(k)})
	}

	// Release rate: linear from 0 to the smallest of 10, 20, 40, 60, 80, 100% that holds
	// every point, so that low rates stay readable.
	top := 1.0
	maxRate := 0.0
	for i := range pts {
		maxRate = max(maxRate, pts[i].ReleaseRate())
	}
	for _, t := range []float64{0.1, 0.2, 0.4, 0.6, 0.8} {
		if maxRate <= t*0.97 {
			top = t
			break
		}
	}
	rateY := func(r float64) float64 { return y1 - r/top*(y1-y0) }
	// Mean area: log scale over whole decades around the data.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		if a := p.MeanAreaKm2(); !math.IsNaN(a) && a > 0 {
			lo, hi = min(lo, a), max(hi, a)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.1, 1000
	}
	dlo, dhi := math.Floor(math.Log10(max(lo, areaFloorKm2))), math.Ceil(math.Log10(hi))
	if dhi <= dlo {
		dhi = dlo + 1
	}
	areaY := func(a float64) float64 {
		return y1 - (math.Log10(max(a, areaFloorKm2))-dlo)/(dhi-dlo)*(y1-y0)
	}
	base := chartView{W: fixed(chartW, 0), H: fixed(chartH, 0), X0: fixed(x0, 0), X1: fixed(x1, 0),
		Y0: fixed(y0, 0), Y1: fixed(y1, 0), XTicks: xt, XLabel: "k (log scale)"}
	sv.Rate, sv.Area = base, base
	sv.Rate.Title = "Release rate (released / events in) against k"
	sv.Rate.YLabel = "released"
	for i := 0; i <= rateTicks; i++ {
		r := top * float64(i) / rateTicks
		sv.Rate.YTicks = append(sv.Rate.YTicks, tickView{Pos: fixed(rateY(r), 1), Label: percentTick(r)})
	}
	sv.Area.Title = "Mean released cell area (check-in weighted) against k"
	sv.Area.YLabel = "km² (log scale)"
	for d := dlo; d <= dhi; d++ {
		sv.Area.YTicks = append(sv.Area.YTicks, tickView{Pos: fixed(areaY(math.Pow(10, d)), 1), Label: decadeText(d)})
	}

	type seriesKey struct {
		w      time.Duration
		hi, lo int
	}
	var keys []seriesKey
	resIdx := make(map[[2]int]int)
	winIdx := make(map[time.Duration]int)
	for _, r := range s.Grid.Resolutions {
		if _, ok := resIdx[r]; !ok {
			resIdx[r] = len(resIdx)
		}
	}
	for _, w := range s.Grid.Windows {
		if _, ok := winIdx[w]; !ok {
			winIdx[w] = len(winIdx)
		}
	}
	bySeries := make(map[seriesKey][]SweepPoint)
	var conf *SweepPoint
	for i := range pts {
		p := &pts[i]
		if p.Configured {
			conf = p
			continue
		}
		k := seriesKey{p.Window, p.MaxRes, p.MinRes}
		if _, ok := bySeries[k]; !ok {
			keys = append(keys, k)
		}
		bySeries[k] = append(bySeries[k], *p)
	}
	usedRes := make(map[[2]int]bool)
	usedWin := make(map[time.Duration]bool)
	for _, k := range keys {
		ps := bySeries[k]
		slices.SortFunc(ps, func(a, b SweepPoint) int { return a.K - b.K })
		color := seriesColors[resIdx[[2]int{k.hi, k.lo}]%len(seriesColors)]
		dash := seriesDashes[winIdx[k.w]%len(seriesDashes)]
		usedRes[[2]int{k.hi, k.lo}], usedWin[k.w] = true, true
		var rate, area seriesView
		rate.Color, rate.Dash, area.Color, area.Dash = color, dash, color, dash
		var rp, ap []string
		for _, p := range ps {
			x := fixed(xOf(p.K), 1)
			title := pointTitle(&p)
			y := fixed(rateY(p.ReleaseRate()), 1)
			rp = append(rp, x+","+y)
			rate.Points = append(rate.Points, pointView{X: x, Y: y, Title: title})
			if a := p.MeanAreaKm2(); !math.IsNaN(a) {
				y := fixed(areaY(a), 1)
				ap = append(ap, x+","+y)
				area.Points = append(area.Points, pointView{X: x, Y: y, Title: title})
			}
		}
		rate.Path = polyline(rp)
		area.Path = polyline(ap)
		sv.Rate.Series = append(sv.Rate.Series, rate)
		sv.Area.Series = append(sv.Area.Series, area)
	}
	if conf != nil {
		title := "configured policy: " + pointTitle(conf)
		sv.Rate.Configured = marker(xOf(conf.K), rateY(conf.ReleaseRate()), title)
		if a := conf.MeanAreaKm2(); !math.IsNaN(a) {
			sv.Area.Configured = marker(xOf(conf.K), areaY(a), title)
		}
		// The label goes left of the marker when the marker is near the right edge.
		lx := xOf(conf.K) + configuredMarkerR + 3
		if lx > chartW-plotR-70 {
			lx = xOf(conf.K) - configuredMarkerR - 68
		}
		sv.Rate.ConfLabelX, sv.Area.ConfLabelX = fixed(lx, 1), fixed(lx, 1)
	}
	for _, r := range s.Grid.Resolutions {
		if usedRes[r] {
			sv.ResLegend = append(sv.ResLegend, legendLine{Color: seriesColors[resIdx[r]%len(seriesColors)],
				Label: fmt.Sprintf("resolutions %d..%d", r[0], r[1])})
		}
	}
	for _, w := range s.Grid.Windows {
		if usedWin[w] {
			sv.WindowLegend = append(sv.WindowLegend, legendLine{Color: "#333", Dash: seriesDashes[winIdx[w]%len(seriesDashes)],
				Label: "window " + durationText(w)})
		}
	}
	for _, p := range pts {
		row := sweepRow{}
		switch {
		case p.Configured:
			row.Class, row.Mark = "configured", "configured"
		case p.FromSummary:
			row.Class, row.Mark = "configured same", "(same)"
		}
		sv.Rows = append(sv.Rows, sweepRow{
			Class: row.Class, Mark: row.Mark, Window: durationText(p.Window), Res: fmt.Sprintf("%d..%d", p.MaxRes, p.MinRes),
			K: strconv.Itoa(p.K), Released: Thousands(int64(p.Released)), Rate: Percent(p.Released, p.In),
			Area: AreaText(p.MeanAreaKm2()), BelowK: Percent(p.Suppressed[belowK], p.In), Cap: Percent(p.Suppressed[capped], p.In),
			Classes: Thousands(int64(p.Classes)), Min: dash(p.MinClassUsers),
		})
	}
	return sv
}

// percentTick writes an axis tick for a share: a percentage with at most one decimal,
// without float noise (0.6 * 2 / 4 is 0.30000000000000004, which must read "30%").
func percentTick(f float64) string {
	return strconv.FormatFloat(math.Round(1000*f)/10, 'f', -1, 64) + "%"
}

// advice is "what to change" for partner: the suggestions among the settings that can
// be configured, in plain words, or why there is none.
func advice(pts []SweepPoint, cfg *config.Config, partner int) ([]string, string) {
	ch := NewChanges(cfg, partner)
	var mates []string
	for _, j := range ch.Mates {
		mates = append(mates, cfg.Partners[j].Name)
	}
	sgs, refused := Suggest(pts, ch.Accepts)
	var out []string
	for _, sg := range sgs {
		out = append(out, suggestionText(sg, mates))
	}
	switch {
	case len(out) > 0:
		return out, ""
	case refused == 0:
		return nil, "No setting of the sweep that could be suggested (the same or a higher k; or a lower k at the " +
			"configured resolutions and window) releases at least 1 point more than the configured policy."
	}
	why := "each would change a setting that partners of one stream must share"
	if cfg.Partners[partner].StrictDP() {
		why = "each would end this partner's strict dp (one resolution) or change a setting that partners of one stream must share"
	}
	more := fmt.Sprintf("%d settings release more", refused)
	if refused == 1 {
		more = "1 setting releases more"
	}
	return nil, "No setting of the sweep that config check accepts for this set of partners releases at least 1 point " +
		"more than the configured policy: " + more + ", but " + why + "."
}

// suggestionText says a suggestion in plain words, for example "At the same k: window
// 1h → 4h (for every partner: the job has one window): release 62.0% → 81.0%, mean area
// 12 → 15 km²". mates are the other partners that must build the same classes: a change
// of k or resolutions is theirs too.
func suggestionText(sg Suggestion, mates []string) string {
	f, t := &sg.From, &sg.To
	var change []string
	if t.Window != f.Window {
		change = append(change, "window "+durationText(f.Window)+" → "+durationText(t.Window)+" (for every partner: the job has one window)")
	}
	var class []string
	if t.MaxRes != f.MaxRes || t.MinRes != f.MinRes {
		class = append(class, fmt.Sprintf("resolutions %d..%d → %d..%d", f.MaxRes, f.MinRes, t.MaxRes, t.MinRes))
	}
	if t.K != f.K {
		class = append(class, fmt.Sprintf("k %d → %d", f.K, t.K))
	}
	if len(class) > 0 && len(mates) > 0 {
		class[len(class)-1] += " (for " + nameList(mates) + " too: partners of one stream build the same classes)"
	}
	change = append(change, class...)
	s := strings.Join(change, ", ") + ": release " + Percent(f.Released, f.In) + " → " + Percent(t.Released, t.In) +
		", mean area " + AreaText(f.MeanAreaKm2()) + " → " + AreaText(t.MeanAreaKm2()) + " km²"
	if t.Window != f.Window {
		s += "; each record's time known to " + durationText(t.Window) + " instead of " + durationText(f.Window)
	}
	switch {
	case sg.LowerK:
		s += fmt.Sprintf("; the chance of picking out a known person's record may reach 1/%d instead of 1/%d", t.K, f.K)
		return "Lowering k: " + s + "."
	case t.K > f.K:
		// Stricter: Changes keeps a strict dp partner strict dp, so no guarantee is weaker.
		return "At a higher k (stricter): " + s + "."
	}
	return "At the same k: " + s + "."
}

// nameList joins names as "a", "a and b" or "a, b and c".
func nameList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func pointTitle(p *SweepPoint) string {
	return fmt.Sprintf("k=%d, resolutions %d..%d, window %s: %s released, mean area %s km²",
		p.K, p.MaxRes, p.MinRes, durationText(p.Window), Percent(p.Released, p.In), AreaText(p.MeanAreaKm2()))
}

func polyline(pts []string) string {
	if len(pts) == 0 {
		return ""
	}
	return "M" + strings.Join(pts, "L")
}

func decadeText(d float64) string {
	v := math.Pow(10, d)
	if d >= 0 {
		return Thousands(int64(v))
	}
	return strconv.FormatFloat(v, 'f', int(-d), 64)
}

func marker(x, y float64, title string) *pointView {
	const r = configuredMarkerR
	d := fmt.Sprintf("M%s,%sL%s,%sL%s,%sL%s,%sZ", fixed(x-r, 1), fixed(y, 1), fixed(x, 1), fixed(y-r, 1),
		fixed(x+r, 1), fixed(y, 1), fixed(x, 1), fixed(y+r, 1))
	return &pointView{X: fixed(x, 1), Y: fixed(y, 1), Title: title, D: d}
}
