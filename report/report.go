package report

import (
	"cmp"
	"errors"
	"slices"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/report/basemap"
)

// Options configure Build.
type Options struct {
	Config  *config.Config
	Summary *cloak.Summary
	// Sweep, when set, adds the threshold sweep.
	Sweep *Sweep
	// Source names the input in the report (a file name, not a path that could hold
	// anything private).
	Source string
	// Basemap is the reviewer's own layer (roads, districts), drawn as lines on every
	// area map over the embedded Natural Earth base map; nil: none.
	Basemap *basemap.Layer
}

// Report is every figure of the reviewer's report, computed; WriteHTML and WriteGeoJSON
// render it. It holds no user, pseudonym, event id or coordinate.
type Report struct {
	Source       string
	Config       *config.Config
	Summary      *cloak.Summary
	Users        int // distinct users among events that reached a window
	Events       int // events that reached a window
	Windows      int // windows released
	FirstWindow  int64
	LastWindow   int64 // end of the last window, Unix ms
	FinestRes    int
	PartitionRes int
	Partners     []*PartnerReport
	Sweep        *Sweep
	UserLayer    *basemap.Layer // Options.Basemap
	// Differencing is the cross-partner check, for every pair of partners without dp.
	Differencing []DiffPair
}

// PartnerReport is one partner's part of the report.
type PartnerReport struct {
	Index  int
	Policy config.Partner
	Stats  cloak.Stats
	// Cells are the released cells, summed over windows, sorted by cell.
	Cells []CellCount
	// Suppressed is the volume suppressed by the policy (below_k, contribution_cap,
	// sensitive_category) per cell at partition_resolution, never finer: a fine cell
	// that failed k would point at the few people in it.
	Suppressed []CellCount
	Sizes      ClassSizes
	// Linkable: events mode, one record per check-in, which a pseudonym could link.
	// Records carry none; Unicity and Home.Located are what a pseudonym linking one
	// person's records over LinkPeriod would give away: hypothetical figures.
	Linkable bool
	Traces   int
	Unicity  []UnicityAt
	Home     Home
	Cat      Categories
	// Time is the partner's outcomes by local hour and day of the week.
	Time TimeProfile
	// Tuples: k over what the partner can tell apart, and picking out a record from one
	// known visit.
	Tuples Tuples
	// Groups: classes of people who move together, followable from window to window.
	Groups Groups
}

// CellCount is the volume of one cell.
type CellCount struct {
	Cell     geo.Cell
	Checkins int
	Classes  int // released classes (one per window the cell was released in)
	Windows  int
}

// UnicityPoints are the numbers of known points the unicity attack tries.
var UnicityPoints = []int{1, 2, 4}

// Build computes the report from what c collected during an evaluation.
func Build(c *Collector, opt Options) (*Report, error) {
	cfg, sum := opt.Config, opt.Summary
	if cfg == nil || sum == nil {
		return nil, errors.New("report: config and summary are required")
	}
	if len(sum.Partners) != len(cfg.Partners) || c.partners != len(cfg.Partners) {
		return nil, errors.New("report: summary, collector and config disagree on partners")
	}
	r := &Report{
		Source: opt.Source, Config: cfg, Summary: sum, Users: c.Users(), Events: c.Events(),
		Windows: c.windows, FinestRes: cfg.CellResolution, PartitionRes: cfg.PartitionResolution,
		Sweep: opt.Sweep, UserLayer: opt.Basemap,
	}
	size := cfg.Window.Size.D().Milliseconds()
	if len(c.events) > 0 {
		lo, hi := c.events[0].time, c.events[0].time
		for _, e := range c.events {
			lo, hi = min(lo, e.time), max(hi, e.time)
		}
		r.FirstWindow = cloak.WindowStart(lo, size)
		r.LastWindow = cloak.WindowStart(hi, size) + size
	}
	clk := newClock()
	for p, pol := range cfg.Partners {
		pr := &PartnerReport{Index: p, Policy: pol, Stats: sum.Partners[p].Stats}
		pr.Cells = releasedCells(c.classes[p])
		pr.Suppressed = c.suppressedCells(p, cfg.PartitionResolution)
		counts := pol.Mode == config.ModeCounts
		pr.Sizes = classSizes(c.classes[p], c.windowUsers(p), pol.K, counts)
		pr.Linkable = !counts
		period := LinkPeriod.Milliseconds()
		pr.Home = c.homeAttack(p, pol.MaxResolution, period, size, clk)
		if pr.Linkable {
			traces := c.buildTraces(p, period)
			pr.Traces = len(traces)
			pr.Unicity = unicity(traces, len(c.classes[p]), UnicityPoints)
		} else {
			// One record per class: nothing a pseudonym could be attached to.
			pr.Home.Located, pr.Home.LocatedAtMax, pr.Home.MeanAreaKm2 = 0, 0, 0
		}
		pr.Cat = c.categories(p, &pr.Stats, !counts && pol.Has("category"))
		pr.Tuples = c.tuples(p, pol.K, !counts)
		pr.Groups = c.groups(p, size)
		pr.Time = c.timeProfile(p, clk)
		r.Partners = append(r.Partners, pr)
	}
	r.Differencing = c.diff.Differencing(cfg)
	return r, nil
}

// releasedCells sums a partner's classes per cell.
func releasedCells(classes []class) []CellCount {
	byCell := make(map[geo.Cell]*CellCount)
	for _, cl := range classes {
		cc := byCell[cl.cell]
		if cc == nil {
			cc = &CellCount{Cell: cl.cell}
			byCell[cl.cell] = cc
		}
		cc.Checkins += int(cl.checkins)
		cc.Classes++
		cc.Windows++ // a cell is one class per window
	}
	return sortedCells(byCell)
}

// suppressedCells sums partner p's policy suppressions per cell at res (the partition
// resolution).
func (c *Collector) suppressedCells(p, res int) []CellCount {
	byCell := make(map[geo.Cell]*CellCount)
	for i := range c.events {
		_, reason := c.outcome(i, p)
		switch reason {
		case cloak.BelowK, cloak.ContributionCap, cloak.SensitiveCategory:
		default:
			continue
		}
		pc := c.events[i].cell.Parent(res)
		cc := byCell[pc]
		if cc == nil {
			cc = &CellCount{Cell: pc}
			byCell[pc] = cc
		}
		cc.Checkins++
	}
	return sortedCells(byCell)
}

func sortedCells(m map[geo.Cell]*CellCount) []CellCount {
	out := make([]CellCount, 0, len(m))
	for _, cc := range m {
		out = append(out, *cc)
	}
	slices.SortFunc(out, func(a, b CellCount) int { return cmp.Compare(a.Cell, b.Cell) })
	return out
}
