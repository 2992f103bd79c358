package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/geocloak/geocloak/cloak"
)

// The time view: per partner, the share of check-ins released and suppressed (by
// reason) by the local hour of the day and the day of the week, each bar the whole of
// its hour, with the hour's volume under it.

// timeSegments are the outcomes a bar is split into, bottom up, their legend labels and
// their colours. The labels are the audit lines' reason names, except released: its
// reason name is empty (an audit line of a release carries no reason).
var timeSegments = []struct {
	reason cloak.Reason
	label  string
	color  string
}{
	{cloak.Released, "released", "#225ea8"},
	{cloak.BelowK, cloak.BelowK.String(), "#e6550d"},
	{cloak.ContributionCap, cloak.ContributionCap.String(), "#a3a3a3"},
	{cloak.SensitiveCategory, cloak.SensitiveCategory.String(), "#8c6bb1"},
}

// otherColor is every other reason (none reaches a window today).
const otherColor = "#4d4d4d"

type barSegment struct {
	Y, H, Fill string
}

type timeBar struct {
	X, W     string
	Segments []barSegment
	VolY     string // the volume bar, from VolY to the strip's bottom
	VolH     string
	Title    string
}

// timeChart is one panel: hours of the day or days of the week.
type timeChart struct {
	Title          string
	W, H           string
	X0, X1, Y0, Y1 string // the share plot
	VolTop, VolBot string // the volume strip
	YTicks         []tickView
	XTicks         []tickView
	Bars           []timeBar
	LabelY         string
	VolLabel       string
}

type timeView struct {
	Hours, Days timeChart
	Legend      []legendLine
	Note        string // where k is met least
}

var weekdays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func buildTimeView(tp *TimeProfile) *timeView {
	tv := &timeView{}
	hours := make([]Outcomes, 24)
	copy(hours, tp.Hours[:])
	days := make([]Outcomes, 7)
	copy(days, tp.Days[:])
	tv.Hours = timePanel("By hour of the day (local solar time)", hours, 560, func(i int) string {
		return fmt.Sprintf("%02d:00–%02d:00", i, i+1)
	}, func(i int) string {
		if i%3 != 0 {
			return ""
		}
		return strconv.Itoa(i)
	})
	tv.Days = timePanel("By day of the week", days, 300, func(i int) string { return weekdays[i] }, func(i int) string { return weekdays[i] })
	for _, s := range timeSegments {
		tv.Legend = append(tv.Legend, legendLine{Color: s.color, Label: s.label})
	}
	// The hour where the release rate is lowest, among hours with check-ins.
	worst, worstRate := -1, 2.0
	for i, o := range hours {
		if o.In == 0 {
			continue
		}
		if r := float64(o.Released()) / float64(o.In); r < worstRate {
			worst, worstRate = i, r
		}
	}
	if worst >= 0 {
		o := hours[worst]
		tv.Note = fmt.Sprintf("Lowest release rate: %02d:00–%02d:00 local solar time, %s of %s check-ins released (%s below_k).",
			worst, worst+1, Percent(o.Released(), o.In), Thousands(int64(o.In)), Percent(o.ByReason[cloak.BelowK], o.In))
	}
	return tv
}

func timePanel(title string, bins []Outcomes, w float64, name, tick func(int) string) timeChart {
	const (
		h              = 250.0
		x0, y0, y1     = 44.0, 10.0, 160.0
		volTop, volBot = 176.0, 214.0
	)
	x1 := w - 8
	tc := timeChart{Title: title, W: fixed(w, 0), H: fixed(h, 0), X0: fixed(x0, 0), X1: fixed(x1, 0), Y0: fixed(y0, 0), Y1: fixed(y1, 0),
		VolTop: fixed(volTop, 0), VolBot: fixed(volBot, 0), LabelY: fixed(volBot+14, 0)}
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		tc.YTicks = append(tc.YTicks, tickView{Pos: fixed(y1-f*(y1-y0), 1), Label: percentTick(f)})
	}
	maxIn := 1
	for _, o := range bins {
		maxIn = max(maxIn, o.In)
	}
	tc.VolLabel = "check-ins (max " + Thousands(int64(maxIn)) + ")"
	slot := (x1 - x0) / float64(len(bins))
	bw := slot * 0.78
	for i, o := range bins {
		x := x0 + float64(i)*slot + (slot-bw)/2
		b := timeBar{X: fixed(x, 1), W: fixed(bw, 1)}
		vh := float64(o.In) / float64(maxIn) * (volBot - volTop)
		b.VolY, b.VolH = fixed(volBot-vh, 1), fixed(vh, 1)
		var parts []string
		if o.In > 0 {
			y := y1
			seen := make(map[cloak.Reason]bool)
			add := func(n int, fill string) {
				if n == 0 {
					return
				}
				sh := float64(n) / float64(o.In) * (y1 - y0)
				y -= sh
				b.Segments = append(b.Segments, barSegment{Y: fixed(y, 2), H: fixed(sh, 2), Fill: fill})
			}
			for _, s := range timeSegments {
				seen[s.reason] = true
				add(o.ByReason[s.reason], s.color)
				if n := o.ByReason[s.reason]; n > 0 && s.reason != cloak.Released {
					parts = append(parts, s.label+" "+Percent(n, o.In))
				}
			}
			for r := cloak.Reason(0); r < cloak.NumReasons; r++ {
				if !seen[r] && o.ByReason[r] > 0 {
					add(o.ByReason[r], otherColor)
					parts = append(parts, r.String()+" "+Percent(o.ByReason[r], o.In))
				}
			}
		}
		b.Title = fmt.Sprintf("%s: %s check-ins, %s released", name(i), Thousands(int64(o.In)), Percent(o.Released(), o.In))
		if len(parts) > 0 {
			b.Title += "; " + strings.Join(parts, ", ")
		}
		tc.Bars = append(tc.Bars, b)
		if l := tick(i); l != "" {
			tc.XTicks = append(tc.XTicks, tickView{Pos: fixed(x+bw/2, 1), Label: l})
		}
	}
	return tc
}
