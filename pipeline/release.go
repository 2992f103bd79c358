package pipeline

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"
	"sync"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// Reason is the state an event ends in for a partner (G4): released, or suppressed for
// one of the reasons below.
type Reason uint8

// Reasons, in the order the engine applies them.
const (
	Released          Reason = iota
	Invalid                  // the raw record could not be decoded or validated
	Late                     // its window had closed when it arrived
	SensitiveCategory        // its category is one the policy never releases
	ContributionCap          // the user had already reached the per-window cap
	BelowK                   // even the coarsest cell had fewer than k users
	NumReasons
)

var reasonNames = [NumReasons]string{"", "invalid", "late", "sensitive_category", "contribution_cap", "below_k"}

func (r Reason) String() string { return reasonNames[r] }

// Policy is a partner's release policy, compiled for the engine.
type Policy struct {
	config.Partner
	partitionRes int
	fields       fieldSet
	suppress     map[string]bool
}

// NewPolicies compiles the partner policies of a validated configuration.
func NewPolicies(cfg *config.Config) []*Policy {
	out := make([]*Policy, len(cfg.Partners))
	for i, p := range cfg.Partners {
		pol := &Policy{Partner: p, partitionRes: cfg.PartitionResolution, suppress: make(map[string]bool)}
		for _, f := range p.Fields {
			pol.fields |= fieldBit[f]
		}
		for _, c := range p.SuppressCategories {
			pol.suppress[c] = true
		}
		out[i] = pol
	}
	return out
}

// Class is one released class: a cell at one resolution in one window, with the
// distinct users and check-ins of the records released in it.
type Class struct {
	Cell     geo.Cell
	Users    int
	Checkins int
	// NoCategory: l-diversity withheld the category of this class's records.
	NoCategory bool
	// NoisyUsers and NoisyCheckins are what a dp partner receives.
	NoisyUsers, NoisyCheckins int
	// DPDropped: the noisy user count did not pass the dp threshold. The class is not
	// released; no event's outcome points to it.
	DPDropped bool
}

// Stats counts a partner's outcomes.
type Stats struct {
	In         int
	Released   int
	Suppressed [NumReasons]int
	ByRes      [geo.MaxRes + 1]int
	// AreaKm2 sums, over released check-ins, the area of the cell each was released in.
	AreaKm2 float64
	Classes int
	// MinClassUsers is the smallest number of distinct users in a released class (0: none).
	MinClassUsers int
	// NoCategory counts check-ins released without their category because of l-diversity.
	NoCategory int
	// DPDropped counts check-ins of classes that reached k but not the dp threshold
	// (counted in Suppressed[BelowK] too).
	DPDropped int
}

// Add adds o to s.
func (s *Stats) Add(o *Stats) {
	s.In += o.In
	s.Released += o.Released
	for i := range s.Suppressed {
		s.Suppressed[i] += o.Suppressed[i]
	}
	for i := range s.ByRes {
		s.ByRes[i] += o.ByRes[i]
	}
	s.AreaKm2 += o.AreaKm2
	s.Classes += o.Classes
	if o.MinClassUsers > 0 && (s.MinClassUsers == 0 || o.MinClassUsers < s.MinClassUsers) {
		s.MinClassUsers = o.MinClassUsers
	}
	s.NoCategory += o.NoCategory
	s.DPDropped += o.DPDropped
}

// PartnerRelease is what one partner gets from one closed window.
type PartnerRelease struct {
	Policy  *Policy
	Classes []Class
	// Records are the partner's records, in release order (by class, then category: not
	// by arrival). Valid until the next Release.
	Records []Record
	Stats   Stats
	outcome []int32 // per item: class index, or -Reason
	arena   recordBuf
	g       grouper
	pidMAC  hash.Hash // keyed with the pid secret; nil unless the policy releases pid
	pidSum  []byte
}

// Outcome is the state of the i-th event of the release for this partner: its class
// when released, or the reason it was suppressed.
func (pr *PartnerRelease) Outcome(i int) (*Class, Reason) {
	o := pr.outcome[i]
	if o >= 0 {
		return &pr.Classes[o], Released
	}
	return nil, Reason(-o)
}

// Release is the outcome of one closed window for every partner.
type Release struct {
	Window   *Window
	Partners []PartnerRelease
	items    []item // the window's events in release order
}

// Len is the number of events in the window.
func (r *Release) Len() int { return len(r.items) }

// EventID is the id of the i-th event (audits only).
func (r *Release) EventID(i int) string { return r.Window.EventID(r.items[i].ref) }

// Event is the i-th event of the release as the engine holds it: finest cell, keyed
// pseudonym, time (Unix ms) and category. For reports and audits, never for partners.
func (r *Release) Event(i int) Event {
	it := &r.items[i]
	return Event{Cell: it.cell, User: it.user, Time: r.Window.Start + int64(it.time), Category: r.Window.cats[it.cat]}
}

// Releaser applies partner policies to closed windows. It is deterministic: the same
// events give the same release whatever their arrival order (apart from which of two
// identical events is audited as which). Not safe for concurrent use; its results are
// valid until the next call.
type Releaser struct {
	policies []*Policy
	rel      Release
	users    []int32 // dense user index per item
	userIdx  map[Pseudonym]int32
	capOrder []int32
}

// NewReleaser returns a Releaser for policies. key is the pseudonym key; partner
// pseudonyms (field pid) are derived from it.
func NewReleaser(policies []*Policy, key []byte) *Releaser {
	r := &Releaser{policies: policies, userIdx: make(map[Pseudonym]int32)}
	secret := hmac.New(sha256.New, key)
	secret.Write([]byte("geocloak/pid/v1"))
	pidKey := secret.Sum(nil)
	r.rel.Partners = make([]PartnerRelease, len(policies))
	for i, p := range policies {
		r.rel.Partners[i].Policy = p
		if p.fields&fPID != 0 {
			r.rel.Partners[i].pidMAC = hmac.New(sha256.New, pidKey)
		}
	}
	return r
}

// Release decides, for every partner, what of w is released.
func (r *Releaser) Release(w *Window) *Release {
	r.rel.Window = w
	items := w.items
	// Release order: by cell, so that every ancestor's descendants are contiguous; then
	// by content, so that arrival order is forgotten.
	slices.SortFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.cell, b.cell); c != 0 {
			return c
		}
		if c := cmp.Compare(a.user, b.user); c != 0 {
			return c
		}
		if c := cmp.Compare(a.time, b.time); c != 0 {
			return c
		}
		if c := cmp.Compare(w.cats[a.cat], w.cats[b.cat]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.src, b.src); c != 0 {
			return c
		}
		if c := cmp.Compare(a.off, b.off); c != 0 {
			return c
		}
		return cmp.Compare(a.ref, b.ref)
	})
	// Copies of one event are adjacent now: keep one.
	items = slices.CompactFunc(items, func(a, b item) bool { return a.src == b.src && a.off == b.off })
	w.items = items
	r.rel.items = items

	clear(r.userIdx)
	r.users = slices.Grow(r.users[:0], len(items))[:len(items)]
	for i := range items {
		u, ok := r.userIdx[items[i].user]
		if !ok {
			u = int32(len(r.userIdx))
			r.userIdx[items[i].user] = u
		}
		r.users[i] = u
	}
	r.orderForCap(w)
	// Partners are independent: each works on the shared, read-only items with its own
	// grouper and buffers.
	if len(r.rel.Partners) == 1 {
		r.releasePartner(&r.rel.Partners[0], w)
		return &r.rel
	}
	var wg sync.WaitGroup
	for i := range r.rel.Partners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.releasePartner(&r.rel.Partners[i], w)
		}()
	}
	wg.Wait()
	return &r.rel
}

// pid is a partner pseudonym: the user's pseudonym under a secret of its own, per
// partner and rotation period, so that partners cannot join their pids, and one
// partner's pids of two periods cannot be linked.
func (pr *PartnerRelease) pid(epoch int64, user Pseudonym) uint64 {
	var buf [16]byte
	pr.pidMAC.Reset()
	pr.pidMAC.Write([]byte(pr.Policy.Name))
	pr.pidMAC.Write([]byte{0})
	binary.BigEndian.PutUint64(buf[:8], uint64(epoch))
	binary.BigEndian.PutUint64(buf[8:], uint64(user))
	pr.pidMAC.Write(buf[:])
	pr.pidSum = pr.pidMAC.Sum(pr.pidSum[:0])
	return binary.BigEndian.Uint64(pr.pidSum)
}

// orderForCap sorts item indices by partition cell, user, then time: the order in which
// each user's check-ins count against the contribution cap (earliest kept).
func (r *Releaser) orderForCap(w *Window) {
	need := false
	for _, p := range r.policies {
		need = need || p.MaxCheckinsPerUserPerWindow > 0
	}
	r.capOrder = r.capOrder[:0]
	if !need {
		return
	}
	items := r.rel.items
	pres := r.policies[0].partitionRes
	for i := range items {
		r.capOrder = append(r.capOrder, int32(i))
	}
	slices.SortFunc(r.capOrder, func(x, y int32) int {
		a, b := &items[x], &items[y]
		if c := cmp.Compare(a.cell.Parent(pres), b.cell.Parent(pres)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.user, b.user); c != 0 {
			return c
		}
		if c := cmp.Compare(a.time, b.time); c != 0 {
			return c
		}
		// Same user, same time: release order (cell, then category) decides.
		return cmp.Compare(x, y)
	})
}

func (r *Releaser) releasePartner(pr *PartnerRelease, w *Window) {
	p := pr.Policy
	items := r.rel.items
	n := len(items)
	pr.Classes = pr.Classes[:0]
	pr.Stats = Stats{In: n}
	pr.outcome = slices.Grow(pr.outcome[:0], n)[:n]
	for i := range pr.outcome {
		pr.outcome[i] = 0
	}

	// Sensitive categories are suppressed first, so they never use up the cap.
	if len(p.suppress) > 0 {
		sensitive := make([]bool, len(w.cats))
		for c, name := range w.cats {
			sensitive[c] = p.suppress[name]
		}
		for i := range items {
			if sensitive[items[i].cat] {
				pr.outcome[i] = -int32(SensitiveCategory)
			}
		}
	}
	if cap := p.MaxCheckinsPerUserPerWindow; cap > 0 {
		var prevCell geo.Cell
		var prevUser Pseudonym
		count := 0
		for _, x := range r.capOrder {
			if pr.outcome[x] != 0 {
				continue
			}
			it := &items[x]
			pc := it.cell.Parent(p.partitionRes)
			if pc != prevCell || it.user != prevUser {
				prevCell, prevUser, count = pc, it.user, 0
			}
			count++
			if count > cap {
				pr.outcome[x] = -int32(ContributionCap)
			}
		}
	}

	g := &pr.g
	g.reset(items, r.users, len(r.userIdx))
	for i := range items {
		if pr.outcome[i] == 0 {
			g.rem = append(g.rem, int32(i))
		}
	}
	if p.Generalization == config.Greedy {
		pr.outcome, pr.Classes = g.greedy(p.K, p.MaxResolution, p.MinResolution, pr.outcome, pr.Classes)
	} else {
		pr.outcome, pr.Classes = g.maximal(p.K, p.MaxResolution, p.MinResolution, pr.outcome, pr.Classes)
	}
	r.encode(pr, w)
}
