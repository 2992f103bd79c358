package cloak

import (
	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/google/differential-privacy/go/v3/noise"
)

// noise sets the noisy counts of class cl (members m) for a dp partner and reports
// whether it is released: its true distinct users reach k (checked by the
// generalization) and its noisy user count passes the threshold the library derives
// from delta (PreThresholdedResult with k as the pre-threshold). The noise comes from
// google/differential-privacy; nothing here draws random numbers itself.
//
// A user contributes at most cap = max_checkins_per_user_per_window check-ins to a window
// (per partition cell), hence to at most cap classes (L0) and at most cap check-ins in
// one class (L∞ of the checkins sum). epsilon is split evenly between the two counts.
func (r *Releaser) noise(pr *PartnerRelease, cl *Class, m []int32) bool {
	p := pr.Policy
	capPerUser := int64(p.MaxCheckinsPerUserPerWindow)
	eps := p.DP.Epsilon / 2
	users, err := dpagg.NewCount(&dpagg.CountOptions{Epsilon: eps, MaxPartitionsContributed: capPerUser, Noise: noise.Laplace()})
	if err != nil {
		return false // parameters are validated; never release on an error
	}
	if err := users.IncrementBy(int64(cl.Users)); err != nil {
		return false
	}
	noisy, err := users.PreThresholdedResult(int64(p.K), p.DP.Delta)
	if err != nil || noisy == nil {
		return false
	}
	checkins, err := dpagg.NewBoundedSumInt64(&dpagg.BoundedSumInt64Options{
		Epsilon: eps, MaxPartitionsContributed: capPerUser, Lower: 0, Upper: capPerUser, Noise: noise.Laplace(),
	})
	if err != nil {
		return false
	}
	// Each user's check-ins in the class, one contribution per user.
	perUser := make(map[int32]int64)
	for _, x := range m {
		perUser[r.users[x]]++
	}
	for _, n := range perUser {
		if err := checkins.Add(n); err != nil {
			return false
		}
	}
	nc, err := checkins.Result()
	if err != nil {
		return false
	}
	cl.NoisyUsers = int(*noisy)
	// Post-processing, which costs no privacy: a class has at least one check-in per user.
	cl.NoisyCheckins = int(max(nc, *noisy))
	return true
}
