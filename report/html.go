package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/report/basemap"
)

const (
	belowK = cloak.BelowK
	capped = cloak.ContributionCap
)

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Parse(pageTemplate))

// page is the template's data: every figure already formatted.
type page struct {
	Source         string
	Lines          string
	Invalid        string
	Late           string
	Users          string
	Events         string
	Windows        string
	Span           string
	WindowSize     string
	Lateness       string
	PartitionRes   int
	PartitionArea  string
	FinestRes      int
	InvalidReasons []kv
	Glance         []glanceRow
	// Diff is the cross-partner check, one row per pair; DiffNote says what was left out.
	Diff       []diffRow
	DiffNote   string
	Partners   []*partnerView
	SweepRuns  int
	SweepGrid  string
	HasSweep   bool
	SuppLevels []int
	// One legend for every partner's maps.
	Legend, SuppLegend []legendBin
	// World is the overview's geography, the same for every partner: drawn once.
	World     *geoPaths // nil: no overview
	UserLayer string    // the reviewer's --basemap layer, named
}

type kv struct{ K, V string }

type diffRow struct {
	A, B, Compared, Groups, Note string // A and B: the pair's partner names
	Bad                          bool
}

type glanceRow struct {
	Anchor, Name, Policy          string
	Rate, Area, Smallest, MaxRisk string
	Risk, RiskNote                string
	Unicity, UnicityNote          string
	Home, HomeNote                string
}

type summaryRow struct {
	Label, N, Share string
	Sub             bool
}

type histBar struct {
	Label, Classes, Checkins string
	W                        string
}

type attackRow struct {
	Group  string // first row of a group carries its name
	Figure string
	Value  string
	Note   string
	Strong bool
}

type partnerView struct {
	Anchor   string
	Name     string
	Topic    string
	Policy   string
	Fields   string
	Summary  []summaryRow
	ByRes    []summaryRow
	MeanArea string
	Classes  string
	Maps     *partnerMaps
	Time     *timeView
	Sweep    *sweepView
	Attacks  []attackRow
	Hist     []histBar
	HistMax  int
}

// WriteHTML writes the report as one self-contained HTML page: inline CSS and SVG, no
// script, no network access. The same report gives the same bytes.
func (r *Report) WriteHTML(w io.Writer) error {
	pg, err := r.page()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := tmpl.Execute(bw, pg); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return bw.Flush()
}

func (r *Report) page() (*page, error) {
	cfg, sum := r.Config, r.Summary
	pg := &page{
		Source: r.Source, Lines: Thousands(sum.Lines), Invalid: Thousands(sum.Invalid), Late: Thousands(sum.Late),
		Users: Thousands(int64(r.Users)), Events: Thousands(int64(r.Events)), Windows: Thousands(int64(r.Windows)),
		WindowSize: durationText(cfg.Window.Size.D()), Lateness: durationText(cfg.Window.AllowedLateness.D()),
		PartitionRes: r.PartitionRes, PartitionArea: AreaText(geo.AvgAreaKm2(r.PartitionRes)), FinestRes: r.FinestRes,
		HasSweep: r.Sweep != nil,
	}
	for i := range suppressedLevels {
		pg.SuppLevels = append(pg.SuppLevels, i)
	}
	if r.Events > 0 {
		pg.Span = utc(r.FirstWindow) + " to " + utc(r.LastWindow)
	}
	for _, k := range sum.InvalidByCount() {
		pg.InvalidReasons = append(pg.InvalidReasons, kv{k, Thousands(sum.InvalidReasons[k])})
	}
	if r.Sweep != nil {
		pg.SweepRuns = r.Sweep.Runs
		g := r.Sweep.Grid
		var res, win []string
		for _, p := range g.Resolutions {
			res = append(res, fmt.Sprintf("%d..%d", p[0], p[1]))
		}
		for _, w := range g.Windows {
			win = append(win, durationText(w))
		}
		pg.SweepGrid = fmt.Sprintf("k in {%s}; resolutions (max..min) in {%s}, leaving out pairs below partition_resolution %d; window in {%s}",
			joinInts(g.K), strings.Join(res, ", "), r.PartitionRes, strings.Join(win, ", "))
	}
	world, err := basemap.World()
	if err != nil {
		return nil, err
	}
	g := &geography{land: world[0], lakes: world[1], borders: world[2], user: r.UserLayer}
	if r.UserLayer != nil {
		pg.UserLayer = r.UserLayer.Name
	}
	sc, err := newMapScales(r.Partners)
	if err != nil {
		return nil, err
	}
	pg.Legend, pg.SuppLegend = sc.Legend, sc.SuppLegend
	for _, pr := range r.Partners {
		pv, err := r.partnerView(pr, sc, g)
		if err != nil {
			return nil, err
		}
		pg.Partners = append(pg.Partners, pv)
		if pv.Maps.Overview != nil && pg.World == nil {
			// The same for every overview: drawn once, used by each. Its land is
			// stroked as the coast: the world's edges are the only clip edges. The
			// reviewer's layer is for the areas; on the world it would be a smudge.
			v := worldView()
			pg.World = &geoPaths{Land: v.fill(g.land), Lakes: v.fill(g.lakes), Borders: v.stroke(g.borders)}
		}
		pg.Glance = append(pg.Glance, glance(pr, pv))
	}
	pg.Diff, pg.DiffNote = diffRows(r)
	return pg, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func policyText(p *config.Partner, window string) string {
	s := fmt.Sprintf("%s mode, k=%d, resolutions %d..%d, window %s, cap %d per user per window", p.Mode, p.K,
		p.MaxResolution, p.MinResolution, window, p.MaxCheckinsPerUserPerWindow)
	if p.MaxCheckinsPerUserPerWindow == 0 {
		s = fmt.Sprintf("%s mode, k=%d, resolutions %d..%d, window %s, no per-user cap", p.Mode, p.K,
			p.MaxResolution, p.MinResolution, window)
	}
	if p.LDiversity > 0 {
		s += fmt.Sprintf(", l-diversity %d", p.LDiversity)
	}
	if p.DP != nil {
		s += fmt.Sprintf(", differential privacy ε=%g per window, δ=%g (counts are noisy)", p.DP.Epsilon, p.DP.Delta)
	}
	if n := len(p.SuppressCategories); n > 0 {
		s += fmt.Sprintf(", %d suppressed categories", n)
	}
	return s
}

func (r *Report) partnerView(pr *PartnerReport, sc *mapScales, g *geography) (*partnerView, error) {
	p := &pr.Policy
	st := &pr.Stats
	pv := &partnerView{
		Anchor: "partner-" + strconv.Itoa(pr.Index), Name: p.Name, Topic: p.Topic,
		Policy: policyText(p, durationText(r.Config.Window.Size.D())), Fields: strings.Join(p.Fields, ", "),
		MeanArea: "-", Classes: Thousands(int64(st.Classes)),
	}
	if st.Released > 0 {
		pv.MeanArea = AreaText(st.AreaKm2 / float64(st.Released))
	}
	row := func(label string, n int, share string, sub bool) {
		pv.Summary = append(pv.Summary, summaryRow{Label: label, N: Thousands(int64(n)), Share: share, Sub: sub})
	}
	row("events in", st.In, "", false)
	row("released", st.Released, Percent(st.Released, st.In), false)
	row("suppressed", st.In-st.Released, Percent(st.In-st.Released, st.In), false)
	for reason := cloak.NumReasons - 1; reason > cloak.Released; reason-- {
		row(reason.String(), st.Suppressed[reason], Percent(st.Suppressed[reason], st.In), true)
		if reason == cloak.BelowK && p.DP != nil {
			row("of below_k: under the dp threshold", st.DPDropped, Percent(st.DPDropped, st.In), true)
		}
	}
	for res := geo.MaxRes; res >= 0; res-- {
		if n := st.ByRes[res]; n > 0 {
			pv.ByRes = append(pv.ByRes, summaryRow{Label: fmt.Sprintf("res %d (avg %s km²)", res, AreaText(geo.AvgAreaKm2(res))),
				N: Thousands(int64(n)), Share: Percent(n, st.Released)})
		}
	}
	maps, err := buildMaps(pr, r.PartitionRes, sc, g)
	if err != nil {
		return nil, fmt.Errorf("map of %s: %w", p.Name, err)
	}
	pv.Maps = maps
	pv.Time = buildTimeView(&pr.Time)
	if r.Sweep != nil {
		pv.Sweep = buildSweepView(r.Sweep, r.Config, pr.Index)
		if pv.Sweep != nil {
			pv.Sweep.DP = p.DP != nil
		}
	}
	sz := &pr.Sizes
	for _, b := range sz.Hist {
		pv.HistMax = max(pv.HistMax, b.Classes)
	}
	for _, b := range sz.Hist {
		label := fmt.Sprintf("%d–%d", b.Lo, b.Hi)
		if b.Hi == 0 {
			label = fmt.Sprintf("≥ %d", b.Lo)
		}
		w := 0.0
		if pv.HistMax > 0 {
			w = 260 * float64(b.Classes) / float64(pv.HistMax)
		}
		pv.Hist = append(pv.Hist, histBar{Label: label, Classes: Thousands(int64(b.Classes)),
			Checkins: Thousands(int64(b.Checkins)), W: fixed(w, 1)})
	}
	pv.Attacks = attackRows(pr, r)
	return pv, nil
}

// diffRows renders the cross-partner check.
func diffRows(r *Report) ([]diffRow, string) {
	var rows []diffRow
	for _, d := range r.Differencing {
		a, b := r.Config.Partners[d.A], r.Config.Partners[d.B]
		row := diffRow{A: a.Name, B: b.Name, Compared: Thousands(int64(d.Cells)), Groups: Thousands(int64(d.Groups)),
			Bad: d.Groups > 0}
		what := "totals per place"
		if d.Categories {
			what = "totals per place and per category shown"
		}
		switch {
		case d.Groups > 0:
			row.Note = fmt.Sprintf("%s compared; the smallest group derived has %d check-ins: this set of partners is one config check refuses", what, d.Smallest)
		case !config.SameClasses(&a, &b):
			row.Note = what + " compared, no difference below k; but the two build different classes, and the lower bounds " +
				"one's classes set inside a place the other releases whole are not counted here: config check refuses the pair"
			row.Bad = true
		default:
			row.Note = what + " compared: the two receive the same classes, nothing below k can be derived"
		}
		rows = append(rows, row)
	}
	var dp []string
	for _, p := range r.Config.Partners {
		if p.DP != nil {
			dp = append(dp, p.Name)
		}
	}
	note := ""
	switch {
	case len(r.Config.Partners) < 2:
		note = "One partner: there is no other release to subtract."
	case len(dp) > 0:
		note = fmt.Sprintf("Partners with dp (%s) are not compared: their counts are noisy, nothing can be subtracted exactly.", strings.Join(dp, ", "))
	}
	return rows, note
}
