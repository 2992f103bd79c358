package report

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/geo"
)

// ClassSizes describes the distinct users of a partner's released classes, and the
// prosecutor risk that follows from them.
type ClassSizes struct {
	Classes int
	K       int
	// Min, quartiles (nearest rank: the value at 1-based rank ceil(q·n) of the sorted
	// sizes) and Max of the distinct users per class.
	Min, Q1, Median, Q3, Max int
	Hist                     []SizeBin
	// Records is the number of records the partner receives: one per released check-in
	// in events mode, one per class in counts mode.
	Records int
	// MaxRisk and MeanRisk are the prosecutor re-identification risk, 1 / (distinct users
	// of the record's class), over the partner's records.
	MaxRisk, MeanRisk float64
	// RandomRisk is the baseline of MeanRisk: the chance of picking out a known person's
	// record by random choice among the people of the record's window, 1 / (distinct
	// users released in that window, any cell), averaged over the same records. What
	// knowing the cell adds is MeanRisk / RandomRisk.
	RandomRisk float64
}

// SizeBin counts the classes whose distinct users are in [Lo, Hi] (Hi 0: no upper bound).
type SizeBin struct {
	Lo, Hi   int
	Classes  int
	Checkins int
}

// classSizes computes ClassSizes over a partner's classes. windowUsers holds the distinct
// users released per window start (for RandomRisk; nil leaves it 0). counts: the partner
// gets one record per class.
func classSizes(classes []class, windowUsers map[int64]int, k int, counts bool) ClassSizes {
	s := ClassSizes{Classes: len(classes), K: k}
	if len(classes) == 0 {
		return s
	}
	users := make([]int, len(classes))
	for i, c := range classes {
		users[i] = int(c.users)
	}
	slices.Sort(users)
	rank := func(q float64) int { return users[int(math.Ceil(q*float64(len(users))))-1] }
	s.Min, s.Q1, s.Median, s.Q3, s.Max = users[0], rank(0.25), rank(0.5), rank(0.75), users[len(users)-1]
	for lo := k; ; lo *= 2 {
		b := SizeBin{Lo: lo, Hi: 2*lo - 1}
		if lo >= 16*k {
			b.Hi = 0
		}
		s.Hist = append(s.Hist, b)
		if b.Hi == 0 {
			break
		}
	}
	var risk, random float64
	for _, c := range classes {
		for i := range s.Hist {
			if b := &s.Hist[i]; int(c.users) >= b.Lo && (b.Hi == 0 || int(c.users) <= b.Hi) {
				b.Classes++
				b.Checkins += int(c.checkins)
			}
		}
		n := int(c.checkins)
		if counts {
			n = 1
		}
		s.Records += n
		risk += float64(n) / float64(c.users)
		if wu := windowUsers[c.start]; wu > 0 {
			random += float64(n) / float64(wu)
		}
	}
	s.MaxRisk = 1 / float64(s.Min)
	s.MeanRisk = risk / float64(s.Records)
	s.RandomRisk = random / float64(s.Records)
	return s
}

// windowUsers counts, per window start, the distinct users of partner p's released
// records in that window.
func (c *Collector) windowUsers(p int) map[int64]int {
	type key struct {
		start int64
		user  int32
	}
	seen := make(map[key]bool)
	out := make(map[int64]int)
	for i := range c.events {
		cl, reason := c.outcome(i, p)
		if reason != cloak.Released {
			continue
		}
		k := key{c.classes[p][cl].start, c.events[i].user}
		if !seen[k] {
			seen[k] = true
			out[k.start]++
		}
	}
	return out
}

// LinkPeriod is how long the hypothetical pseudonym of unicity and home inference links
// one person's records: records carry no pseudonym, and these figures show what one
// that stays the same for a day would give away.
const LinkPeriod = 24 * time.Hour

// trace is the set of released points of one user in one linking period: what a
// pseudonym of that period would link. A point is a released class (window, cell);
// points are sorted class indices.
type trace struct {
	user   int32
	epoch  int64
	points []int32
}

// released is one released record of one partner seen from the input side.
type released struct {
	user  int32
	epoch int64
	class int32
}

// buildTraces links a partner's released records by user and linking period (period in
// ms), as a pseudonym of that period would. Traces are sorted by epoch, then by their points: an order that
// does not depend on the pseudonym key, so that the random choices of unicity do not
// either.
func (c *Collector) buildTraces(p int, period int64) []trace {
	var recs []released
	for i := range c.events {
		cl, reason := c.outcome(i, p)
		if reason != cloak.Released {
			continue
		}
		recs = append(recs, released{user: c.events[i].user, epoch: floorDiv(c.classes[p][cl].start, period), class: cl})
	}
	return tracesOf(recs)
}

func tracesOf(recs []released) []trace {
	slices.SortFunc(recs, func(a, b released) int {
		if x := cmp.Compare(a.user, b.user); x != 0 {
			return x
		}
		if x := cmp.Compare(a.epoch, b.epoch); x != 0 {
			return x
		}
		return cmp.Compare(a.class, b.class)
	})
	var out []trace
	for i := 0; i < len(recs); {
		j := i
		t := trace{user: recs[i].user, epoch: recs[i].epoch}
		for ; j < len(recs) && recs[j].user == t.user && recs[j].epoch == t.epoch; j++ {
			if n := len(t.points); n == 0 || t.points[n-1] != recs[j].class {
				t.points = append(t.points, recs[j].class)
			}
		}
		out = append(out, t)
		i = j
	}
	slices.SortFunc(out, func(a, b trace) int {
		if x := cmp.Compare(a.epoch, b.epoch); x != 0 {
			return x
		}
		return slices.Compare(a.points, b.points)
	})
	return out
}

// UnicityAt is the unicity of traces for one number of known points.
type UnicityAt struct {
	P          int
	Considered int // traces with at least P points
	Unique     int // of those, traces that are the only one holding the P points drawn
}

// Share is Unique / Considered (0 when none was considered).
func (u UnicityAt) Share() float64 {
	if u.Considered == 0 {
		return 0
	}
	return float64(u.Unique) / float64(u.Considered)
}

// unicitySeed fixes the random choices, so that the same input gives the same report.
const unicitySeed = 0x67656f636c6f616b // "geocloak"

// unicity is the share of traces singled out by P of their points (de Montjoye et al.
// 2013, "Unique in the Crowd"): for each trace with at least P points, P distinct points
// are drawn uniformly at random (fixed seed), and the trace is unique when no other
// trace holds all of them. A point is a class (window, cell), so only traces of the same
// linking period can hold it.
func unicity(traces []trace, nClasses int, ps []int) []UnicityAt {
	postings := make([][]int32, nClasses)
	for t, tr := range traces {
		for _, pt := range tr.points {
			postings[pt] = append(postings[pt], int32(t))
		}
	}
	out := make([]UnicityAt, 0, len(ps))
	for _, p := range ps {
		u := UnicityAt{P: p}
		rng := rand.New(rand.NewPCG(unicitySeed, uint64(p)))
		pick := make([]int32, 0, p)
		for _, tr := range traces {
			if len(tr.points) < p {
				continue
			}
			u.Considered++
			pick = pick[:0]
			for len(pick) < p {
				// Rejection: p is small and never above len(tr.points).
				pt := tr.points[rng.IntN(len(tr.points))]
				if !slices.Contains(pick, pt) {
					pick = append(pick, pt)
				}
			}
			// The trace holds its own points: one holder is the trace itself.
			if holders(traces, postings, pick, 2) == 1 {
				u.Unique++
			}
		}
		out = append(out, u)
	}
	return out
}

// holders counts the traces holding every point of pts, stopping at limit.
func holders(traces []trace, postings [][]int32, pts []int32, limit int) int {
	slices.SortFunc(pts, func(a, b int32) int { return cmp.Compare(len(postings[a]), len(postings[b])) })
	n := 0
	for _, t := range postings[pts[0]] {
		all := true
		for _, pt := range pts[1:] {
			if _, ok := slices.BinarySearch(traces[t].points, pt); !ok {
				all = false
				break
			}
		}
		if all {
			n++
			if n >= limit {
				break
			}
		}
	}
	return n
}

// Night is 22:00 to 06:00 local mean solar time (see clock).
const (
	nightFrom = 22 // hour, inclusive
	nightTo   = 6  // hour, exclusive
)

// nightAt reports whether a local time (from clock.local) is at night.
func nightAt(local int64) bool {
	h := hourOf(local)
	return h >= nightFrom || h < nightTo
}

// minNight is the number of night-time check-ins a user needs for a home.
const minNight = 3

// Home is the home-inference attack on one partner.
type Home struct {
	// Eligible users have at least minNight night-time check-ins in the input.
	Eligible int
	// Located users: for at least one of their traces, the most frequent night-time
	// released cell is the ancestor of their home at that cell's resolution. Only an
	// attacker who can link records (a pseudonym) can do this: the figure is what one
	// linking a day would give.
	Located      int
	LocatedAtMax int // located to the home cell at max_resolution itself
	// MeanAreaKm2 is the area of the cells users were located to, weighted by the
	// trace's night-time records in that cell (0 when none was located).
	MeanAreaKm2 float64
	// Crowds: eligible users whose home cell at max_resolution was released as a class
	// in a night-time window: a crowd of at least k at that place, not the person.
	Crowds int
	// Guess is the baseline of Located: one constant guess for everyone, the busiest
	// night-time released cell (most check-ins released in it in night-time windows; ties:
	// the smallest H3 index). It needs no linking, so it applies to counts mode too.
	// GuessLocated eligible users have their home in it (0 when nothing is released at
	// night).
	Guess        geo.Cell
	GuessLocated int
}

// homes returns each eligible user's home: the most frequent cell at res among the
// user's night-time check-ins in the input (ties: the smallest H3 index), for users with
// at least minNight of them.
func (c *Collector) homes(res int, clk *clock) map[int32]geo.Cell {
	type userCell struct {
		user int32
		cell geo.Cell
	}
	var night []userCell
	for _, e := range c.events {
		if nightAt(clk.local(e.time, e.cell)) {
			night = append(night, userCell{e.user, e.cell.Parent(res)})
		}
	}
	slices.SortFunc(night, func(a, b userCell) int {
		if x := cmp.Compare(a.user, b.user); x != 0 {
			return x
		}
		return cmp.Compare(a.cell, b.cell)
	})
	out := make(map[int32]geo.Cell)
	for i := 0; i < len(night); {
		u := night[i].user
		total, best, bestN := 0, geo.Cell(0), 0
		for i < len(night) && night[i].user == u {
			j := i
			for j < len(night) && night[j] == night[i] {
				j++
			}
			// Cells come in increasing order: a strict > keeps the smallest of a tie.
			if j-i > bestN {
				best, bestN = night[i].cell, j-i
			}
			total += j - i
			i = j
		}
		if total >= minNight {
			out[u] = best
		}
	}
	return out
}

// homeAttack runs home inference on partner p. period (ms) links records as a
// pseudonym of that period would; window is the window size (ms): a released record is
// night-time when the middle of its window is, at its cell.
func (c *Collector) homeAttack(p, maxRes int, period, window int64, clk *clock) Home {
	home := c.homes(maxRes, clk)
	h := Home{Eligible: len(home)}
	nightClass := func(cl *class) bool { return nightAt(clk.local(cl.start+window/2, cl.cell)) }

	crowd := make(map[geo.Cell]bool)
	nightVolume := make(map[geo.Cell]int)
	for i := range c.classes[p] {
		cl := &c.classes[p][i]
		if !nightClass(cl) {
			continue
		}
		nightVolume[cl.cell] += int(cl.checkins)
		if cl.cell.Res() == maxRes {
			crowd[cl.cell] = true
		}
	}
	for _, hc := range home {
		if crowd[hc] {
			h.Crowds++
		}
	}
	bestN := 0
	for cell, n := range nightVolume {
		if n > bestN || n == bestN && cell < h.Guess {
			h.Guess, bestN = cell, n
		}
	}
	if bestN > 0 {
		for _, hc := range home {
			if hc.Parent(h.Guess.Res()) == h.Guess {
				h.GuessLocated++
			}
		}
	}

	type rec struct {
		user  int32
		epoch int64
		cell  geo.Cell
	}
	var recs []rec
	for i := range c.events {
		ci, reason := c.outcome(i, p)
		if reason != cloak.Released {
			continue
		}
		cl := &c.classes[p][ci]
		if nightClass(cl) {
			recs = append(recs, rec{c.events[i].user, floorDiv(cl.start, period), cl.cell})
		}
	}
	slices.SortFunc(recs, func(a, b rec) int {
		if x := cmp.Compare(a.user, b.user); x != 0 {
			return x
		}
		if x := cmp.Compare(a.epoch, b.epoch); x != 0 {
			return x
		}
		return cmp.Compare(a.cell, b.cell)
	})
	located := make(map[int32]int) // user -> finest resolution located to
	var area, weight float64
	for i := 0; i < len(recs); {
		u, ep := recs[i].user, recs[i].epoch
		best, bestN := geo.Cell(0), 0
		for i < len(recs) && recs[i].user == u && recs[i].epoch == ep {
			j := i
			for j < len(recs) && recs[j] == recs[i] {
				j++
			}
			if j-i > bestN {
				best, bestN = recs[i].cell, j-i
			}
			i = j
		}
		hc, ok := home[u]
		if !ok || hc.Parent(best.Res()) != best {
			continue
		}
		if r, seen := located[u]; !seen || best.Res() > r {
			located[u] = best.Res()
		}
		if a, err := best.AreaKm2(); err == nil {
			area += a * float64(bestN)
			weight += float64(bestN)
		}
	}
	h.Located = len(located)
	for _, r := range located {
		if r == maxRes {
			h.LocatedAtMax++
		}
	}
	if weight > 0 {
		h.MeanAreaKm2 = area / weight
	}
	return h
}

// Categories is the effect of sensitive categories and l-diversity on a partner.
type Categories struct {
	// Released is whether the partner's records carry a category at all (events mode,
	// category in fields).
	Released bool
	// Sensitive check-ins were suppressed for their category.
	Sensitive int
	// NoCategory check-ins were released without their category (l-diversity).
	NoCategory int
	// WithCategory released records show a category (Leaf of them their venue
	// category, the rest its group); Categorised released records had a category the
	// taxonomy knows; Records is every released record.
	WithCategory, Leaf, Categorised, Records int
}

func (c *Collector) categories(p int, st *cloak.Stats, carries bool) Categories {
	out := Categories{Released: carries, Sensitive: st.Suppressed[cloak.SensitiveCategory],
		NoCategory: st.NoCategory, Records: st.Released, Categorised: st.Categorised}
	if carries {
		out.WithCategory, out.Leaf = st.KeptLeaf+st.KeptGroup, st.KeptLeaf
	}
	return out
}

// Tuples are the figures of k over what a partner can tell apart: the released tuples
// (window, cell, resolution, category as shown) of an events partner.
type Tuples struct {
	Applies bool // events mode: one record per check-in
	Tuples  int
	// BelowK counts tuples with fewer than k distinct users, RecordsBelowK their records:
	// both 0 by construction (G1); the report recomputes them from what was released.
	BelowK, RecordsBelowK int
	MinUsers              int // smallest tuple, in distinct users (0: none)
	Records               int
	// PickOut is the chance that an attacker who knows one visit of a person (place,
	// hour and kind of venue) picks out that person's record: 1 / records of the tuple
	// holding it, averaged over released records. PickOutClass is the same knowing only
	// the place and hour (1 / records of the class): what the category adds is the
	// difference.
	PickOut, PickOutClass float64
}

func (c *Collector) tuples(p, k int, events bool) Tuples {
	out := Tuples{Applies: events}
	if !events {
		return out
	}
	var pick, pickClass float64
	for _, cl := range c.classes[p] {
		for _, t := range cl.tuples {
			out.Tuples++
			out.Records += int(t.records)
			if int(t.users) < k {
				out.BelowK++
				out.RecordsBelowK += int(t.records)
			}
			if out.MinUsers == 0 || int(t.users) < out.MinUsers {
				out.MinUsers = int(t.users)
			}
			pick += 1 // each of its records: 1/records, records times
		}
		pickClass += 1
	}
	if out.Records > 0 {
		out.PickOut, out.PickOutClass = pick/float64(out.Records), pickClass/float64(out.Records)
	}
	return out
}

// Groups are the released classes whose users are exactly those of a class of the window
// before: people who move together. Each window is anonymized on its own, so a partner
// who knows one visit of one of them finds their class in the next window too, and
// follows the group (k-anonymity holds in each window, not across windows).
type Groups struct {
	Classes int // classes with the users of a class of the window before
	Users   int // distinct users in them
	Longest int // most consecutive windows one set of users was a class (0: none repeats)
}

// groups finds partner p's classes whose users are exactly those of a class of the
// window before (window: the window size, ms).
func (c *Collector) groups(p int, window int64) Groups {
	cls := c.classes[p]
	users := make([][]int32, len(cls))
	for i := range c.events {
		if cl, reason := c.outcome(i, p); reason == cloak.Released {
			users[cl] = append(users[cl], c.events[i].user)
		}
	}
	order := make([]int, len(cls))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(cls[a].start, cls[b].start) })
	var out Groups
	seen := make(map[int32]bool)
	// runs: a set of users (as bytes) → consecutive windows it was a class, for the
	// window before (prev) and this one (cur).
	prev, cur := map[string]int{}, map[string]int{}
	start := int64(math.MinInt64)
	var key []byte
	for _, ci := range order {
		if cls[ci].start != start {
			if cls[ci].start == start+window {
				prev = cur
			} else {
				prev = map[string]int{}
			}
			cur, start = map[string]int{}, cls[ci].start
		}
		u := users[ci]
		slices.Sort(u)
		u = slices.Compact(u)
		key = key[:0]
		for _, x := range u {
			key = append(key, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
		}
		n := 1
		if m, ok := prev[string(key)]; ok {
			n = m + 1
			out.Classes++
			for _, x := range u {
				seen[x] = true
			}
			out.Longest = max(out.Longest, n)
		}
		cur[string(key)] = max(cur[string(key)], n)
	}
	out.Users = len(seen)
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
