package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/pipeline"
	"github.com/geocloak/geocloak/report/basemap"
)

const (
	belowK = pipeline.BelowK
	capped = pipeline.ContributionCap
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
	Partners       []*partnerView
	SweepRuns      int
	SweepGrid      string
	HasSweep       bool
	SuppLevels     []int
	// One legend for every partner's maps.
	Legend, SuppLegend []legendBin
	// World is the overview's geography, the same for every partner: drawn once.
	World     *geoPaths // nil: no overview
	UserLayer string    // the reviewer's --basemap layer, named
}

type kv struct{ K, V string }

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

func glance(pr *PartnerReport, pv *partnerView) glanceRow {
	st := &pr.Stats
	g := glanceRow{Anchor: pv.Anchor, Name: pr.Policy.Name, Policy: fmt.Sprintf("k=%d, res %d..%d",
		pr.Policy.K, pr.Policy.MaxResolution, pr.Policy.MinResolution),
		Rate: Percent(st.Released, st.In), Area: pv.MeanArea, Smallest: dash(st.MinClassUsers), MaxRisk: "-", Risk: "-"}
	if sz := &pr.Sizes; sz.Classes > 0 {
		g.MaxRisk = fixed(sz.MaxRisk, 3)
		g.Risk, g.RiskNote = fixed(sz.MeanRisk, 3), "random choice: "+fixed(sz.RandomRisk, 4)
	}
	h := &pr.Home
	guess := share(h.GuessLocated, h.Eligible) + " by one constant guess"
	if h.Guess != 0 {
		if a, err := h.Guess.AreaKm2(); err == nil {
			guess += " (a " + AreaText(a) + " km² cell)"
		}
	}
	if pr.Linkable {
		g.Unicity, g.UnicityNote = "n/a", unicityAt(pr, 4)+" if a pseudonym linked a day"
		g.Home, g.HomeNote = "0%", share(h.Located, h.Eligible)+" if linked a day; "+guess
	} else {
		g.Unicity, g.UnicityNote = "n/a", "counts mode: no record to link"
		g.Home, g.HomeNote = "0%", guess
	}
	return g
}

// unicityAt is the unicity share for p known points ("-" when not computed).
func unicityAt(pr *PartnerReport, p int) string {
	for _, u := range pr.Unicity {
		if u.P == p {
			return share(u.Unique, u.Considered)
		}
	}
	return "-"
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
	for reason := pipeline.NumReasons - 1; reason > pipeline.Released; reason-- {
		row(reason.String(), st.Suppressed[reason], Percent(st.Suppressed[reason], st.In), true)
		if reason == pipeline.BelowK && p.DP != nil {
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
		pv.Sweep = buildSweepView(r.Sweep, pr.Index)
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

func attackRows(pr *PartnerReport, r *Report) []attackRow {
	p := &pr.Policy
	sz := &pr.Sizes
	var rows []attackRow
	add := func(group, figure, value, note string, strong bool) {
		rows = append(rows, attackRow{Group: group, Figure: figure, Value: value, Note: note, Strong: strong})
	}
	if sz.Classes == 0 {
		add("Class sizes", "released classes", "0", "nothing released: no class to attack", false)
	} else {
		add("Class sizes", "released classes", Thousands(int64(sz.Classes)), "a class is (window, cell): its records are indistinguishable", false)
		note := fmt.Sprintf("never below k = %d (G1)", p.K)
		if p.DP != nil {
			note += "; true counts: the partner receives noisy ones"
		}
		add("", "distinct users per class: min / Q1 / median / Q3 / max",
			fmt.Sprintf("%d / %d / %d / %d / %d", sz.Min, sz.Q1, sz.Median, sz.Q3, sz.Max), note, false)
		add("Picking out a record", "maximum prosecutor risk, 1 / smallest class", fixed(sz.MaxRisk, 3),
			fmt.Sprintf("at most 1/k = %s by construction", fixed(1/float64(p.K), 3)), true)
		add("", fmt.Sprintf("mean prosecutor risk over the %s records received", Thousands(int64(sz.Records))), fixed(sz.MeanRisk, 3),
			"chance of picking out a known person's record knowing the window and the cell, averaged over records", false)
		lift := "-"
		if sz.RandomRisk > 0 {
			lift = fixed(sz.MeanRisk/sz.RandomRisk, 1) + " times the random choice"
		}
		add("", "baseline: random choice among the people of the window", fixed(sz.RandomRisk, 4),
			"knowing only the window: 1 / distinct users released in it, averaged over the same records; knowing the cell gives "+lift, false)
	}
	// The tuple-level figures of the privacy model (tuples below k, the chance one known
	// visit picks out a record) go with this group once the engine releases them.
	period := durationText(LinkPeriod)
	if !pr.Linkable {
		add("Unicity", "p = 1, 2, 4 known points", "does not apply",
			"counts mode: one record per class, nothing a pseudonym could be attached to, so records cannot be linked into traces", false)
	} else {
		add("Unicity", "as released", "does not apply",
			"records carry no pseudonym: no trace can be built, unicity does not apply", true)
		for _, u := range pr.Unicity {
			add("", fmt.Sprintf("p = %d: traces unique if a pseudonym linked each person's records for %s", u.P, period), share(u.Unique, u.Considered),
				fmt.Sprintf("hypothetical: %s of %s traces with at least %s", Thousands(int64(u.Unique)), Thousands(int64(u.Considered)), points(u.P)), false)
		}
	}
	h := &pr.Home
	add("Home inference", "eligible users (at least 3 night-time check-ins in the input)",
		fmt.Sprintf("%s of %s", Thousands(int64(h.Eligible)), Thousands(int64(r.Users))),
		fmt.Sprintf("home = most frequent night-time cell at resolution %d", p.MaxResolution), false)
	if !pr.Linkable {
		add("", "located as released", Percent(0, h.Eligible), "counts mode: a record is a class, never one person's", true)
	} else {
		located := fmt.Sprintf("%s (%s users); mean area %s km²; %s at resolution %d", share(h.Located, h.Eligible),
			Thousands(int64(h.Located)), AreaText(h.MeanAreaKm2), share(h.LocatedAtMax, h.Eligible), p.MaxResolution)
		if h.Located == 0 {
			located = Percent(0, h.Eligible)
		}
		add("", "located as released", Percent(0, h.Eligible), "no pseudonym: a record cannot be attributed to a person", true)
		add("", fmt.Sprintf("located if a pseudonym linked each person's records for %s", period), located,
			"hypothetical: the trace's most frequent night-time released cell holds the user's home", false)
	}
	if h.Guess == 0 {
		add("", "baseline: one constant guess for everyone", "-", "nothing released at night", false)
	} else {
		a, _ := h.Guess.AreaKm2()
		note := fmt.Sprintf("every home guessed to be the busiest night-time released cell (resolution %d, %s km²): needs no linking, so the release gives this much away as it is",
			h.Guess.Res(), AreaText(a))
		if pr.Linkable && h.Eligible > 0 {
			note += fmt.Sprintf("; linking a day adds %s points", fixed(100*float64(h.Located-h.GuessLocated)/float64(h.Eligible), 1))
		}
		add("", "baseline: one constant guess for everyone", share(h.GuessLocated, h.Eligible), note, true)
	}
	add("", "home cells visible as crowds", share(h.Crowds, h.Eligible),
		fmt.Sprintf("home cell at resolution %d released as a class in a night-time window: k people there, not the person", p.MaxResolution), false)
	c := &pr.Cat
	add("Categories", "suppressed as sensitive_category", fmt.Sprintf("%s (%s of events in)",
		Thousands(int64(c.Sensitive)), Percent(c.Sensitive, pr.Stats.In)), fmt.Sprintf("%d categories never released", len(p.SuppressCategories)), false)
	if p.LDiversity > 0 {
		add("", fmt.Sprintf("released without category (l-diversity, l = %d)", p.LDiversity),
			fmt.Sprintf("%s (%s of released)", Thousands(int64(c.NoCategory)), Percent(c.NoCategory, c.Records)),
			"classes with fewer than l categories lose them", false)
	} else {
		add("", "released without category (l-diversity)", "off", "l_diversity is 0", false)
	}
	if c.Released {
		add("", "released records carrying a category", fmt.Sprintf("%s (%s of released)",
			Thousands(int64(c.WithCategory)), Percent(c.WithCategory, c.Records)), "the rest had none in the input or lost it to l-diversity", false)
	} else {
		add("", "released records carrying a category", "none", "category is not in this partner's fields", false)
	}
	return rows
}

func points(n int) string {
	if n == 1 {
		return "1 point"
	}
	return strconv.Itoa(n) + " points"
}
