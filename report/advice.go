package report

import (
	"cmp"
	"math"
	"slices"

	"github.com/geocloak/geocloak/config"
)

// Suggestion is a sweep setting that releases more than the configured policy, chosen
// for what it gains per unit of what it costs.
type Suggestion struct {
	From, To SweepPoint
	// LowerK: To lowers k (the risk bound 1/k rises); otherwise k is kept or raised and
	// the cost is precision (area and window).
	LowerK bool
}

// minGain is the least release gain worth suggesting, as a share of events in.
const minGain = 0.01

// minCost is the least cost a precision trade counts, in doublings: a change that costs
// (almost) nothing is ranked by its gain alone among the cheap ones.
const minCost = 0.25

// Suggest picks, from one partner's sweep points (the configured one among them), at
// most two settings that accept takes (nil: every one) and that raise the release rate
// by at least minGain:
//   - keeping k (or raising it), the one with the highest gain per doubling of the
//     space-time box a record is known to: log2(mean area ratio) + log2(window ratio);
//   - lowering k, resolutions and window as configured, the one with the highest gain
//     per rise of the prosecutor risk bound (1/k' − 1/k).
//
// Ties go to the smaller cost, then to the larger gain, then to the sweep's order.
// refused counts the settings of those two kinds that gain minGain but accept refuses, so
// that the page can say why there is no suggestion.
func Suggest(points []SweepPoint, accept func(SweepPoint) bool) (out []Suggestion, refused int) {
	i := slices.IndexFunc(points, func(p SweepPoint) bool { return p.Configured })
	if i < 0 {
		return nil, 0
	}
	conf := points[i]
	r0 := conf.ReleaseRate()
	a0 := conf.MeanAreaKm2()
	type scored struct {
		p           SweepPoint
		score, cost float64
	}
	better := func(a, b *scored) bool {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(b.cost, a.cost),
			cmp.Compare(a.p.ReleaseRate(), b.p.ReleaseRate())) > 0
	}
	var precision, lowerK *scored
	for _, p := range points {
		gain := p.ReleaseRate() - r0
		lower := p.K < conf.K
		if p.Configured || p.FromSummary || gain < minGain ||
			lower && (p.Window != conf.Window || p.MaxRes != conf.MaxRes || p.MinRes != conf.MinRes) {
			continue // not one of the two kinds of suggestion
		}
		if accept != nil && !accept(p) {
			refused++
			continue
		}
		if !lower {
			cost := math.Log2(float64(p.Window) / float64(conf.Window))
			if a := p.MeanAreaKm2(); !math.IsNaN(a0) && a0 > 0 && !math.IsNaN(a) {
				cost += math.Log2(a / a0)
			}
			s := &scored{p: p, cost: cost, score: gain / max(cost, minCost)}
			if precision == nil || better(s, precision) {
				precision = s
			}
			continue
		}
		cost := 1/float64(p.K) - 1/float64(conf.K)
		s := &scored{p: p, cost: cost, score: gain / cost}
		if lowerK == nil || better(s, lowerK) {
			lowerK = s
		}
	}
	if precision != nil {
		out = append(out, Suggestion{From: conf, To: precision.p})
	}
	if lowerK != nil {
		out = append(out, Suggestion{From: conf, To: lowerK.p, LowerK: true})
	}
	return out, refused
}

// Changes applies one partner's sweep points to the configuration, as a reviewer would
// have to: a sweep point is that partner's policy alone, but the window is one setting
// of the job, and partners of one stream must build the same classes.
type Changes struct {
	cfg     *config.Config
	partner int
	// setRule: the configured set is one config check accepts, so every change must keep
	// it so. Otherwise (evaluate --alternatives) the partners are policies compared on
	// one input, and each change need only be a valid policy.
	setRule bool
	// Mates are the other partners that a change of k or resolutions applies to: under
	// the set rule every partner but the strict dp ones builds the same classes.
	Mates []int
}

// NewChanges prepares the changes of partner's sweep points to cfg.
func NewChanges(cfg *config.Config, partner int) *Changes {
	c := &Changes{cfg: cfg, partner: partner, setRule: cloneConfig(cfg).Validate() == nil}
	if !c.setRule || cfg.Partners[partner].StrictDP() {
		return c
	}
	for j := range cfg.Partners {
		if j != partner && !cfg.Partners[j].StrictDP() {
			c.Mates = append(c.Mates, j)
		}
	}
	return c
}

// Accepts reports whether p, applied to the configuration, is one the configured set's
// validation accepts, and keeps a strict dp partner strict dp (alone, no set rule would
// stop a change to several resolutions, where its guarantee no longer covers the layout).
func (c *Changes) Accepts(p SweepPoint) bool {
	run := c.apply(p)
	if c.cfg.Partners[c.partner].StrictDP() && !run.Partners[c.partner].StrictDP() {
		return false
	}
	if c.setRule {
		return run.Validate() == nil
	}
	return run.ValidateAlternatives() == nil
}

// apply returns a copy of the configuration with p's window for the job and, where p
// changes them, p's k and resolutions for the partner and its mates (what p keeps as
// configured is not copied: a mate with dp over several resolutions has a k of its own
// for the same classes). A change of k next to such a mate is refused, as config check
// would: it builds for a target above its k.
func (c *Changes) apply(p SweepPoint) *config.Config {
	run := cloneConfig(c.cfg)
	run.Window.Size = config.Duration(p.Window)
	own := &c.cfg.Partners[c.partner]
	for _, i := range append([]int{c.partner}, c.Mates...) {
		q := &run.Partners[i]
		if p.K != own.K {
			q.K = p.K
		}
		if p.MaxRes != own.MaxResolution || p.MinRes != own.MinResolution {
			q.MaxResolution, q.MinResolution = p.MaxRes, p.MinRes
		}
	}
	return run
}

// cloneConfig copies cfg deep enough to change partners' k and resolutions and to
// validate (which sets the copy's taxonomy) without touching cfg.
func cloneConfig(cfg *config.Config) *config.Config {
	run := *cfg
	run.Partners = slices.Clone(cfg.Partners)
	return &run
}
