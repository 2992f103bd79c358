package report

import (
	"cmp"
	"slices"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// The cross-partner check: what two colluding partners could derive by subtracting one
// release from the other.
//
// For one window and a cell c, partner X's total T_X(c) is the number of check-ins it
// received in c or in cells inside c (at resolution res(c) or finer). When X received
// no record at a cell that contains c (a strict ancestor of c), every check-in of c that
// X received is counted in T_X(c): c is closed for X, and the attacker knows exactly how
// many check-ins of c X received. When c is closed for both partners of a pair and their
// totals differ by d, with 0 < d < k (the smaller k of the two), the attacker has derived
// a group of d check-ins in c that one partner received and the other did not: fewer
// than k, at a place and time no release showed with k users. The same holds per category
// shown, for two partners that release categories, and for user counts (counts mode
// with users): summed over one partner's classes inside c and compared with the other's
// users (or, without them but with a cap of 1, its check-ins), a difference counts
// people with check-ins in two classes. The check counts differences of totals; the
// lower bounds that one partner's classes set inside a cell another partner releases
// whole are an attack it does not count: config check refuses every pair that could
// build different classes, and the report says which compared pairs could. Partners with dp are left out: their counts are noisy, nothing can be
// subtracted exactly.
//
// config check refuses the partner sets for which this can happen; the report computes
// it on the released data all the same, as the evidence (and for evaluate --alternatives,
// where the partners are compared policies, not one stream).

// DiffPair is the check for one pair of partners.
type DiffPair struct {
	A, B int // partner indices
	// Cells is the number of (window, cell) places compared: closed for both partners.
	Cells int
	// Groups counts the groups of 1 to k-1 check-ins derived: (window, cell, category
	// shown) places where the two totals differ, less what the places inside them that
	// are closed too already account for; Smallest is the smallest group (0: none).
	Groups, Smallest int
	// Categories: both partners release categories, and totals per category shown were
	// compared too. Users: one of them releases user counts, compared too.
	Categories, Users bool
}

// diffClass is one class a partner received.
type diffClass struct {
	start    int64
	cell     geo.Cell
	checkins int
	users    int            // distinct users, for a partner that releases them (counts mode); else -1
	labels   map[string]int // check-ins per category shown ("" none); events with category only
}

// DiffCollector gathers what every partner received, for the cross-partner check. It
// implements cloak.Output (wrap the real output with it) and holds a few bytes per
// released class.
type DiffCollector struct {
	next    cloak.Output
	classes [][]diffClass
}

// NewDiffCollector returns a collector for partners partners that passes everything on
// to next (nil: nothing).
func NewDiffCollector(partners int, next cloak.Output) *DiffCollector {
	return &DiffCollector{next: next, classes: make([][]diffClass, partners)}
}

// Suppressed implements cloak.Output.
func (d *DiffCollector) Suppressed(id string, reason cloak.Reason, detail string, w *cloak.Window) error {
	if d.next != nil {
		return d.next.Suppressed(id, reason, detail, w)
	}
	return nil
}

// Released implements cloak.Output.
func (d *DiffCollector) Released(rel *cloak.Release) error {
	if d.next != nil {
		if err := d.next.Released(rel); err != nil {
			return err
		}
	}
	for p := range rel.Partners {
		pr := &rel.Partners[p]
		pol := pr.Policy
		withLabels := pol.Mode == config.ModeEvents && pol.Has("category")
		withUsers := pol.Mode == config.ModeCounts && pol.Has("users")
		idx := make(map[*cloak.Class]int)
		for i := range rel.Len() {
			cl, reason := pr.Outcome(i)
			if reason != cloak.Released {
				continue
			}
			x, ok := idx[cl]
			if !ok {
				x = len(d.classes[p])
				idx[cl] = x
				d.classes[p] = append(d.classes[p], diffClass{start: rel.Window.Start, cell: cl.Cell, users: -1})
				if withUsers {
					d.classes[p][x].users = cl.Users
				}
				if withLabels {
					d.classes[p][x].labels = make(map[string]int)
				}
			}
			c := &d.classes[p][x]
			c.checkins++
			if withLabels {
				c.labels[rel.Label(p, i)]++
			}
		}
	}
	return nil
}

// Differencing runs the cross-partner check for every pair of partners without dp.
func (d *DiffCollector) Differencing(cfg *config.Config) []DiffPair {
	var out []DiffPair
	for a := range cfg.Partners {
		for b := a + 1; b < len(cfg.Partners); b++ {
			pa, pb := cfg.Partners[a], cfg.Partners[b]
			if pa.DP != nil || pb.DP != nil {
				continue
			}
			out = append(out, diffPair(a, b, pa, pb, d.classes[a], d.classes[b]))
		}
	}
	return out
}

// totals of one partner in one window: per cell, its check-ins in it or finer, per
// category shown ("" for all).
type totals struct {
	classAt map[geo.Cell]bool
	sum     map[geo.Cell]map[total]int
	minRes  int
}

// total names what is summed: check-ins (all, or of one category shown) or users.
type total struct {
	kind  uint8 // checkins, users
	label string
}

const (
	checkinTotal uint8 = iota
	userTotal
)

// newTotals sums a partner's classes; userStandIn: the partner releases no user counts
// but a cap of 1, so that its check-ins per class are its users.
func newTotals(classes []diffClass, minRes, floor int, userStandIn bool) *totals {
	t := &totals{classAt: make(map[geo.Cell]bool), sum: make(map[geo.Cell]map[total]int), minRes: minRes}
	for _, c := range classes {
		t.classAt[c.cell] = true
		for r := c.cell.Res(); r >= floor; r-- {
			anc := c.cell.Parent(r)
			m := t.sum[anc]
			if m == nil {
				m = make(map[total]int)
				t.sum[anc] = m
			}
			m[total{kind: checkinTotal}] += c.checkins
			if c.users >= 0 {
				m[total{kind: userTotal}] += c.users
			} else if userStandIn {
				m[total{kind: userTotal}] += c.checkins // what a user count is compared with
			}
			for l, n := range c.labels {
				if l != "" {
					m[total{label: l}] += n
				}
			}
		}
	}
	return t
}

// closed reports whether the partner received no class at a strict ancestor of c.
func (t *totals) closed(c geo.Cell) bool {
	for r := c.Res() - 1; r >= t.minRes; r-- {
		if t.classAt[c.Parent(r)] {
			return false
		}
	}
	return true
}

func diffPair(a, b int, pa, pb config.Partner, ca, cb []diffClass) DiffPair {
	// User counts are compared when one partner releases them and the other does too,
	// or has a cap of 1 (its check-ins are then its users). Without a cap, one partner's
	// users and the other's check-ins differ by the repeat check-ins of each class, which
	// the counts partner's own users and checkins tell already.
	hasA, hasB := len(ca) > 0 && ca[0].users >= 0, len(cb) > 0 && cb[0].users >= 0
	standA, standB := !hasA && pa.MaxCheckinsPerUserPerWindow == 1, !hasB && pb.MaxCheckinsPerUserPerWindow == 1
	res := DiffPair{A: a, B: b, Categories: len(ca) > 0 && ca[0].labels != nil && len(cb) > 0 && cb[0].labels != nil,
		Users: (hasA || hasB) && (hasA || standA) && (hasB || standB)}
	k := min(pa.K, pb.K)
	// Totals of coarser cells are sums of finer ones, with signs that can cancel: every
	// level is compared, down to the coarsest.
	const floor = 0
	byWindow := func(cs []diffClass) map[int64][]diffClass {
		m := make(map[int64][]diffClass)
		for _, c := range cs {
			m[c.start] = append(m[c.start], c)
		}
		return m
	}
	wa, wb := byWindow(ca), byWindow(cb)
	var windows []int64
	for w := range wa {
		windows = append(windows, w)
	}
	for w := range wb {
		if _, ok := wa[w]; !ok {
			windows = append(windows, w)
		}
	}
	slices.Sort(windows)
	for _, w := range windows {
		ta, tb := newTotals(wa[w], pa.MinResolution, floor, standA), newTotals(wb[w], pb.MinResolution, floor, standB)
		cells := make(map[geo.Cell]bool)
		for c := range ta.sum {
			cells[c] = true
		}
		for c := range tb.sum {
			cells[c] = true
		}
		sorted := make([]geo.Cell, 0, len(cells))
		for c := range cells {
			sorted = append(sorted, c)
		}
		slices.SortFunc(sorted, func(x, y geo.Cell) int { return cmp.Compare(x, y) })
		// Signed differences at every place closed for both, per category shown.
		type place struct {
			cell geo.Cell
			what total
		}
		diff := make(map[place]int)
		for _, c := range sorted {
			if !ta.closed(c) || !tb.closed(c) {
				continue
			}
			res.Cells++
			keys := []total{{kind: checkinTotal}}
			if res.Users {
				keys = append(keys, total{kind: userTotal})
			}
			if res.Categories {
				for k := range ta.sum[c] {
					if k.label != "" {
						keys = append(keys, k)
					}
				}
				for k := range tb.sum[c] {
					if _, ok := ta.sum[c][k]; !ok && k.label != "" {
						keys = append(keys, k)
					}
				}
			}
			for _, k := range keys {
				diff[place{c, k}] = ta.sum[c][k] - tb.sum[c][k]
			}
		}
		// A difference a coarser place only sums up from the places inside it is the same
		// group again; what is left over is a group of its own, in the part of the place
		// outside them.
		inside := make(map[place]int)
		for pl, d := range diff {
			if r := pl.cell.Res(); r > 0 {
				if parent := (place{pl.cell.Parent(r - 1), pl.what}); hasKey(diff, parent) {
					inside[parent] += d
				}
			}
		}
		for pl, d := range diff {
			left := d - inside[pl]
			if left < 0 {
				left = -left
			}
			if left > 0 && left < k {
				res.Groups++
				res.Smallest = minPositiveInt(res.Smallest, left)
			}
		}
	}
	return res
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

func minPositiveInt(a, b int) int {
	if a == 0 || b < a {
		return b
	}
	return a
}
