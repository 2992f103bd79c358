package cloak

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
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
	SensitiveCategory        // its category is in a sensitive group or suppress_categories
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
	tax          *config.Taxonomy
	// suppress_categories, resolved once (config.Taxonomy.SuppressEntry): the groups
	// and listed names it names, and every entry normalized, for the names the taxonomy
	// does not list.
	suppressGroup map[int]bool
	suppressLeaf  map[string]bool // listed spelling
	suppress      map[string]bool
	// release holds the indices of the sensitive groups opted in.
	release map[int]bool
	// kGen is the number of distinct users classes are built for (config.Partner.ClassK):
	// k, or for a dp partner over several resolutions the noisy-count threshold plus a
	// margin, so that classes pass the threshold.
	kGen int
}

// NewPolicies compiles the partner policies of a validated configuration.
func NewPolicies(cfg *config.Config) []*Policy {
	tax := cfg.Taxonomy()
	out := make([]*Policy, len(cfg.Partners))
	for i, p := range cfg.Partners {
		pol := &Policy{Partner: p, partitionRes: cfg.PartitionResolution, tax: tax, suppressGroup: make(map[int]bool),
			suppressLeaf: make(map[string]bool), suppress: make(map[string]bool), release: make(map[int]bool), kGen: p.ClassK()}
		for _, f := range p.Fields {
			pol.fields |= fieldBit[f]
		}
		for _, c := range p.SuppressCategories {
			pol.suppress[config.NormalizeCategory(c)] = true
			switch leaf, g := tax.SuppressEntry(c); {
			case g >= 0:
				pol.suppressGroup[g] = true
			case leaf != "":
				pol.suppressLeaf[leaf] = true
			}
		}
		for _, id := range p.ReleaseSensitiveGroups {
			for g := range tax.Groups {
				if tax.Groups[g].ID == id {
					pol.release[g] = true
				}
			}
		}
		out[i] = pol
	}
	return out
}

// KGen is the number of distinct users the policy's classes are built for.
func (p *Policy) KGen() int { return p.kGen }

// Class is one released class: a cell at one resolution in one window, with the
// distinct users and check-ins of the records released in it.
type Class struct {
	Cell     geo.Cell
	Users    int
	Checkins int
	// NoCategory: l-diversity withheld every category of this class's records.
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
	// Categorised counts released check-ins whose input category the taxonomy knows;
	// KeptLeaf and KeptGroup those whose record shows their category, or its group.
	Categorised, KeptLeaf, KeptGroup int
	// Tuples counts released (class, category) tuples, MinTupleUsers the smallest number
	// of distinct users in one (0: none). Counts records have one tuple per class.
	Tuples, MinTupleUsers int
	// NoCategory counts check-ins of classes whose categories l-diversity withheld.
	NoCategory int
	// DPDropped counts check-ins of classes that reached the target but not the dp
	// threshold (counted in Suppressed[BelowK] too).
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
	s.MinClassUsers = minPositive(s.MinClassUsers, o.MinClassUsers)
	s.Categorised += o.Categorised
	s.KeptLeaf += o.KeptLeaf
	s.KeptGroup += o.KeptGroup
	s.Tuples += o.Tuples
	s.MinTupleUsers = minPositive(s.MinTupleUsers, o.MinTupleUsers)
	s.NoCategory += o.NoCategory
	s.DPDropped += o.DPDropped
}

// minPositive is the smaller of two counts where 0 means none.
func minPositive(a, b int) int {
	if a == 0 || (b > 0 && b < a) {
		return b
	}
	return a
}

// PartnerRelease is what one partner gets from one closed window.
type PartnerRelease struct {
	Policy  *Policy
	Classes []Class
	Stats   Stats
	outcome []int32 // per item: class index, or -Reason
	label   []int32 // per item: the category label released, or -1 (none)
	g       grouper
	lab     labeler
	// What Records needs: the released classes in record order, each class's items
	// (members[starts[c]:starts[c+1]], sorted by the category shown), the labels, the
	// window's bounds as text, the key prefix, and where the next record is.
	order, starts, members []int32
	labels                 []string
	window                 *Window
	start, end, keyPrefix  []byte
	mac                    hash.Hash // keys the record keys of a policy without cell
	macIn                  []byte
	opaque                 []opaqueRec // a policy without cell: its records, in record order
	shuffled               bool        // opaque is built (at the first Records call)
	cur                    cursor
	arena                  recordBuf
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
	cats     []winCat
	labels   []string // category labels of this window: canonical leaf and group names
	labelGrp []int    // per label: its taxonomy group
	runs     []run
}

// run is the items of one partition cell: [lo, hi), with users distinct users.
type run struct{ lo, hi, users int32 }

// winCat is what the taxonomy says of one category of the window.
type winCat struct {
	group       int   // taxonomy group, -1 when unknown
	also        []int // other sensitive groups whose keywords the name holds
	leaf, glabl int32 // label indices of the leaf and of the group; -1: none
}

// Len is the number of events in the window.
func (r *Release) Len() int { return len(r.items) }

// EventID is the id of the i-th event (audits only).
func (r *Release) EventID(i int) string { return r.Window.EventID(r.items[i].ref) }

// Event is the i-th event of the release as the engine holds it: cell at
// cell_resolution, keyed pseudonym, time (Unix ms) and category. For reports and audits,
// never for partners.
func (r *Release) Event(i int) Event {
	it := &r.items[i]
	return Event{Cell: it.cell, User: it.user, Time: r.Window.Start + int64(it.time), Category: r.Window.cats[it.cat]}
}

// Label is the category the i-th event's record shows for partner p: a canonical leaf
// or group name of the taxonomy, or "" when it shows none (or was not released).
func (r *Release) Label(p, i int) string {
	if l := r.Partners[p].label[i]; l >= 0 {
		return r.labels[l]
	}
	return ""
}

// Releaser applies partner policies to closed windows. The release of a window is a
// function of each partition cell's events alone, and of the events, never of their
// arrival order (apart from which of two identical events is audited as which): every
// choice and tie-break uses the cell, the pseudonym's value, the time and the category,
// and each partition cell is decided on its own. Not safe for concurrent use; its
// results are valid until the next call.
type Releaser struct {
	policies []*Policy
	rel      Release
	users    []int32 // per item: the rank of its user among the users of its partition cell
	scratch  []int32
	tax      *config.Taxonomy
	catCache map[string]config.Category // taxonomy lookups, bounded by maxInterned
}

// NewReleaser returns a Releaser for policies. secret (RecordKeySecret) keys the record
// keys of policies that release no cell.
func NewReleaser(policies []*Policy, secret []byte) *Releaser {
	r := &Releaser{policies: policies, catCache: make(map[string]config.Category)}
	if len(policies) > 0 {
		r.tax = policies[0].tax
	}
	r.rel.Partners = make([]PartnerRelease, len(policies))
	for i, p := range policies {
		r.rel.Partners[i].Policy = p
		if p.fields&fCell == 0 {
			r.rel.Partners[i].mac = hmac.New(sha256.New, secret)
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
	r.splitRuns()
	r.resolveCategories(w)

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

// splitRuns cuts the sorted items into partition cells and ranks each item's user among
// the users of its partition cell by pseudonym value: a user index that carries no
// information from outside the partition cell (G3 across workers, stream = evaluate).
func (r *Releaser) splitRuns() {
	items := r.rel.items
	pres := 0
	if len(r.policies) > 0 {
		pres = r.policies[0].partitionRes
	}
	r.rel.runs = r.rel.runs[:0]
	r.users = slices.Grow(r.users[:0], len(items))[:len(items)]
	for lo := 0; lo < len(items); {
		pc := items[lo].cell.Parent(pres)
		hi := lo + 1
		for hi < len(items) && items[hi].cell.Parent(pres) == pc {
			hi++
		}
		idx := r.scratch[:0]
		for x := lo; x < hi; x++ {
			idx = append(idx, int32(x))
		}
		slices.SortFunc(idx, func(a, b int32) int { return cmp.Compare(items[a].user, items[b].user) })
		rank := int32(-1)
		for j, x := range idx {
			if j == 0 || items[x].user != items[idx[j-1]].user {
				rank++
			}
			r.users[x] = rank
		}
		r.scratch = idx
		r.rel.runs = append(r.rel.runs, run{lo: int32(lo), hi: int32(hi), users: rank + 1})
		lo = hi
	}
}

// resolveCategories looks the window's categories up in the taxonomy and lists the
// labels a record may show: canonical leaf names and group names.
func (r *Releaser) resolveCategories(w *Window) {
	r.rel.cats = r.rel.cats[:0]
	r.rel.labels = r.rel.labels[:0]
	r.rel.labelGrp = r.rel.labelGrp[:0]
	labelIdx := make(map[string]int32)
	label := func(s string, group int) int32 {
		if s == "" {
			return -1
		}
		l, ok := labelIdx[s]
		if !ok {
			l = int32(len(r.rel.labels))
			r.rel.labels = append(r.rel.labels, s)
			r.rel.labelGrp = append(r.rel.labelGrp, group)
			labelIdx[s] = l
		}
		return l
	}
	for _, name := range w.cats {
		c := r.lookup(name)
		wc := winCat{group: c.Group, also: c.Also, leaf: -1, glabl: -1}
		if c.Known() {
			wc.leaf = label(c.Leaf, c.Group)
			wc.glabl = label(r.tax.Groups[c.Group].Name, c.Group)
		}
		r.rel.cats = append(r.rel.cats, wc)
	}
}

func (r *Releaser) lookup(name string) config.Category {
	if r.tax == nil {
		return config.Category{Group: -1}
	}
	if c, ok := r.catCache[name]; ok {
		return c
	}
	c := r.tax.Lookup(name)
	if len(r.catCache) < maxInterned {
		r.catCache[name] = c
	}
	return c
}

// sensitive reports, per window category, whether p suppresses it: a sensitive group
// not opted in, or a name or group in suppress_categories.
func (r *Releaser) sensitive(p *Policy, w *Window) []bool {
	out := make([]bool, len(w.cats))
	for c, name := range w.cats {
		wc := r.rel.cats[c]
		if wc.group >= 0 {
			out[c] = p.tax.Groups[wc.group].Sensitive && !p.release[wc.group] || p.suppressGroup[wc.group]
			for _, a := range wc.also {
				// A name that points at several sensitive groups needs them all opted in,
				// and suppress_categories naming one of them suppresses it.
				out[c] = out[c] || !p.release[a] || p.suppressGroup[a]
			}
		}
		// By the listed name it is read as ("Psychiatric Hospitals", "PsychiatricHospital":
		// "Psychiatric Hospital"), whose spelling the record would show; and, for names
		// the taxonomy does not list, as the input spells it.
		out[c] = out[c] || wc.leaf >= 0 && p.suppressLeaf[r.rel.labels[wc.leaf]] ||
			len(p.suppress) > 0 && p.suppress[config.NormalizeCategory(name)]
	}
	return out
}

func (r *Releaser) releasePartner(pr *PartnerRelease, w *Window) {
	p := pr.Policy
	items := r.rel.items
	n := len(items)
	pr.Classes = pr.Classes[:0]
	pr.Stats = Stats{In: n}
	pr.outcome = slices.Grow(pr.outcome[:0], n)[:n]
	clear(pr.outcome)
	pr.label = slices.Grow(pr.label[:0], n)[:n]
	for i := range pr.label {
		pr.label[i] = -1
	}

	// Sensitive categories are suppressed first, so they never use up the cap. The cap
	// keeps each user's earliest check-ins in each partition cell (same time: release
	// order, that is cell, then category).
	sensitive := r.sensitive(p, w)
	for i := range items {
		if sensitive[items[i].cat] {
			pr.outcome[i] = -int32(SensitiveCategory)
		}
	}
	var order []int32
	for _, ru := range r.rel.runs {
		if capN := p.MaxCheckinsPerUserPerWindow; capN > 0 {
			// Each partner orders on its own: the releaser's buffer is shared.
			order = slices.Grow(order[:0], int(ru.hi-ru.lo))
			for x := ru.lo; x < ru.hi; x++ {
				order = append(order, x)
			}
			slices.SortFunc(order, func(x, y int32) int {
				a, b := &items[x], &items[y]
				return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.time, b.time), cmp.Compare(x, y))
			})
			var prev Pseudonym
			count, first := 0, true
			for _, x := range order {
				if pr.outcome[x] != 0 {
					continue
				}
				if u := items[x].user; first || u != prev {
					prev, count, first = u, 0, false
				}
				count++
				if count > capN {
					pr.outcome[x] = -int32(ContributionCap)
				}
			}
		}
		g := &pr.g
		lo, hi := ru.lo, ru.hi
		g.reset(items[lo:hi], r.users[lo:hi], int(ru.users))
		for i := range hi - lo {
			if pr.outcome[lo+i] == 0 {
				g.rem = append(g.rem, i)
			}
		}
		out := pr.outcome[lo:hi]
		if p.Generalization == config.Greedy {
			pr.Classes = g.greedy(p.kGen, p.MaxResolution, p.MinResolution, out, pr.Classes)
		} else {
			pr.Classes = g.maximal(p.kGen, p.MaxResolution, p.MinResolution, out, pr.Classes)
		}
	}
	r.encode(pr, w)
}
