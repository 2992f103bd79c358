package report

import (
	"cmp"
	"math"
	"slices"
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
// most two settings that raise the release rate by at least minGain:
//   - keeping k (or raising it), the one with the highest gain per doubling of the
//     space-time box a record is known to: log2(mean area ratio) + log2(window ratio);
//   - lowering k, resolutions and window as configured, the one with the highest gain
//     per rise of the prosecutor risk bound (1/k' − 1/k).
//
// Ties go to the smaller cost, then to the larger gain, then to the sweep's order.
func Suggest(points []SweepPoint) []Suggestion {
	i := slices.IndexFunc(points, func(p SweepPoint) bool { return p.Configured })
	if i < 0 {
		return nil
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
		if p.Configured || p.FromSummary || gain < minGain {
			continue
		}
		if p.K >= conf.K {
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
		if p.Window == conf.Window && p.MaxRes == conf.MaxRes && p.MinRes == conf.MinRes {
			cost := 1/float64(p.K) - 1/float64(conf.K)
			s := &scored{p: p, cost: cost, score: gain / cost}
			if lowerK == nil || better(s, lowerK) {
				lowerK = s
			}
		}
	}
	var out []Suggestion
	if precision != nil {
		out = append(out, Suggestion{From: conf, To: precision.p})
	}
	if lowerK != nil {
		out = append(out, Suggestion{From: conf, To: lowerK.p, LowerK: true})
	}
	return out
}
