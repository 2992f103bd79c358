package config

import (
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

// DPMargin is how many standard deviations of the noise a dp partner's classes are
// built above the noisy-count threshold when it generalizes over several resolutions:
// a class of that size passes it with probability 1 - exp(-margin·√2)/2 (Laplace
// noise), about 97.0% at 2.
const DPMargin = 2

// DPThreshold is the smallest noisy user count a dp partner's class must reach to be
// released: the library's threshold for delta (Laplace, L0 = the per-user cap, L∞ = 1,
// ε/2) on top of k, as PreThresholdedResult applies it. 0 without dp.
func (p *Partner) DPThreshold() int {
	if p.DP == nil || p.MaxCheckinsPerUserPerWindow < 1 {
		return 0
	}
	t, err := noise.Laplace().Threshold(int64(p.MaxCheckinsPerUserPerWindow), 1, p.DP.Epsilon/2, 0, p.DP.Delta)
	if err != nil {
		return math.MaxInt32 // parameters are validated; never release on an error
	}
	return int(math.Ceil(t)) + p.K - 1
}

// DPNoiseSD is the standard deviation of a dp partner's noisy user count; 0 without dp.
func (p *Partner) DPNoiseSD() float64 {
	if p.DP == nil {
		return 0
	}
	return math.Sqrt2 * float64(p.MaxCheckinsPerUserPerWindow) / (p.DP.Epsilon / 2)
}

// DPTarget is the noisy threshold plus DPMargin standard deviations of the noise; k
// without dp.
func (p *Partner) DPTarget() int {
	if p.DP == nil {
		return p.K
	}
	return p.DPThreshold() + int(math.Ceil(DPMargin*p.DPNoiseSD()))
}

// ClassK is the number of distinct users p's classes are built for. It is k, except
// for a dp partner over several resolutions: building its classes for k alone made most
// of them fail the noisy threshold and fall to nothing rather than to a coarser cell,
// so that raising k released more; they are built for DPTarget instead, and raising k
// raises the target. A dp partner at one resolution has no coarser cell to fall to:
// its classes are the min_resolution cells of k users, thresholded by the library.
func (p *Partner) ClassK() int {
	if p.DP == nil || p.MaxResolution == p.MinResolution {
		return p.K
	}
	return max(p.K, p.DPTarget())
}
