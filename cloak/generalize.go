package cloak

import (
	"cmp"
	"slices"
	"sort"

	"github.com/geocloak/geocloak/geo"
)

// grouper runs a generalization over the items of one partition cell of one window,
// sorted by cell, so that the descendants of any cell are contiguous. It counts distinct
// users with a stamp per user index: O(1) per item, no map. A user index is the rank of
// the user's pseudonym among the partition cell's users, so ordering by it is ordering by
// the pseudonym: every tie-break is intrinsic to the partition cell's events.
type grouper struct {
	items []item
	users []int32 // user index per item
	stamp []uint32
	gen   uint32
	rem   []int32 // candidate item indices, in item order
	elig  []bool  // per item: a candidate (maximal only)
	// A second stamp counts the users a class would add to the current group.
	stamp2 []uint32
	gen2   uint32
}

func (g *grouper) reset(items []item, users []int32, nUsers int) {
	g.items, g.users = items, users
	if cap(g.stamp) < nUsers {
		g.stamp = make([]uint32, nUsers)
		g.gen = 0
	}
	g.stamp = g.stamp[:nUsers]
	if cap(g.stamp2) < nUsers {
		g.stamp2 = make([]uint32, nUsers)
		g.gen2 = 0
	}
	g.stamp2 = g.stamp2[:nUsers]
	g.rem = g.rem[:0]
}

// newGroupKeep starts counting the users that are new to the current group.
func (g *grouper) newGroupKeep() {
	g.gen2++
	if g.gen2 == 0 {
		clear(g.stamp2)
		g.gen2 = 1
	}
}

// isNewUser reports whether item i's user is in neither the current group nor the
// current count, and counts it.
func (g *grouper) isNewUser(i int32) bool {
	u := g.users[i]
	if g.stamp[u] == g.gen || g.stamp2[u] == g.gen2 {
		return false
	}
	g.stamp2[u] = g.gen2
	return true
}

// newGroup starts a distinct-user count.
func (g *grouper) newGroup() {
	g.gen++
	if g.gen == 0 { // wrapped: old stamps could collide
		clear(g.stamp)
		g.gen = 1
	}
}

// addUser counts item i's user in the current group and reports whether it was new.
func (g *grouper) addUser(i int32) bool {
	u := g.users[i]
	if g.stamp[u] == g.gen {
		return false
	}
	g.stamp[u] = g.gen
	return true
}

// greedy is the generalization of the design: from the finest resolution to the
// coarsest, group the remaining items by their ancestor cell and release every group
// with at least k distinct users; what remains at the end is suppressed (below_k).
// G1 holds by construction: a class is exactly one released group, counted when it is
// released. The grouper holds the items of one partition cell; outcome (indexed like
// them) gets the class index of released items and -BelowK for the rest.
func (g *grouper) greedy(k, maxRes, minRes int, outcome []int32, classes []Class) []Class {
	rem := g.rem
	for res := maxRes; res >= minRes && len(rem) > 0; res-- {
		next := rem[:0] // compacts in place: writes never pass reads
		for i := 0; i < len(rem); {
			parent := g.items[rem[i]].cell.Parent(res)
			g.newGroup()
			users := 0
			j := i
			for ; j < len(rem) && g.items[rem[j]].cell.Parent(res) == parent; j++ {
				if g.addUser(rem[j]) {
					users++
				}
			}
			if users >= k {
				c := int32(len(classes))
				classes = append(classes, Class{Cell: parent, Users: users, Checkins: j - i})
				for _, x := range rem[i:j] {
					outcome[x] = c
				}
			} else {
				next = append(next, rem[i:j]...)
			}
			i = j
		}
		rem = next
	}
	for _, x := range rem {
		outcome[x] = -int32(BelowK)
	}
	g.rem = rem
	return classes
}

// mclass is a class of the maximal generalization while it is being built: its members
// can still be lent to a coarser class that needs them.
type mclass struct {
	cell    geo.Cell
	res     int
	pos     int32   // its first item when released: the classes of a subtree are those whose pos is in its range
	members []int32 // item indices
	users   int
	dead    bool // dissolved into a coarser class
}

// maximal releases every candidate check-in whose cell at min_resolution holds at least
// k distinct users, which is the most any generalization can release, and keeps them as
// fine as it can. It walks up like greedy, releasing every group with k users. When a
// node's remaining group has some users but fewer than k while its whole subtree has k,
// it completes the group there, at the finest level it can, instead of passing it up:
// first with check-ins that classes below can lend without dropping under k (a second
// check-in of a user they keep, or a user of a class above k), coarsest classes first,
// then by dissolving whole classes, coarsest and smallest first. Every class keeps at
// least k users at every step (G1).
func (g *grouper) maximal(k, maxRes, minRes int, outcome []int32, classes []Class) []Class {
	elig := g.elig[:0]
	for range g.items {
		elig = append(elig, false)
	}
	g.elig = elig
	for _, x := range g.rem {
		elig[x] = true
	}
	var cls []mclass
	var byLevel [geo.MaxRes + 1][]int32 // class ids per level, in item order
	rem := g.rem
	for res := maxRes; res >= minRes && len(rem) > 0; res-- {
		next := rem[:0]
		for i := 0; i < len(rem); {
			node := g.items[rem[i]].cell.Parent(res)
			g.newGroup()
			users := 0
			j := i
			for ; j < len(rem) && g.items[rem[j]].cell.Parent(res) == node; j++ {
				if g.addUser(rem[j]) {
					users++
				}
			}
			members := rem[i:j]
			release := users >= k
			if !release {
				// Complete the group here, at the finest level that can: passed up,
				// its check-ins would be released coarser, and moving check-ins costs
				// less area the finer the level. (Pricing both ways and passing up when
				// cheaper made no difference on the city.)
				if lo, hi := g.nodeRange(node, res); g.eligibleUsers(lo, hi, k) >= k {
					members, users = g.fill(k, append([]int32(nil), members...), lo, hi, res, maxRes, cls, &byLevel)
					release = true
				}
			}
			if release {
				byLevel[res] = append(byLevel[res], int32(len(cls)))
				cls = append(cls, mclass{cell: node, res: res, pos: members[0], members: append([]int32(nil), members...), users: users})
			} else {
				next = append(next, rem[i:j]...)
			}
			i = j
		}
		rem = next
	}
	for _, c := range cls {
		if c.dead {
			continue
		}
		idx := int32(len(classes))
		classes = append(classes, Class{Cell: c.cell, Users: c.users, Checkins: len(c.members)})
		for _, x := range c.members {
			outcome[x] = idx
		}
	}
	for _, x := range rem {
		outcome[x] = -int32(BelowK)
	}
	g.rem = rem
	return classes
}

// nodeRange is the range of items in the subtree of node (a cell at res).
func (g *grouper) nodeRange(node geo.Cell, res int) (int32, int32) {
	lo := sort.Search(len(g.items), func(i int) bool { return g.items[i].cell.Parent(res) >= node })
	hi := lo + sort.Search(len(g.items)-lo, func(i int) bool { return g.items[lo+i].cell.Parent(res) > node })
	return int32(lo), int32(hi)
}

// eligibleUsers counts the distinct users of the candidate items in [lo, hi), up to k.
func (g *grouper) eligibleUsers(lo, hi int32, k int) int {
	g.newGroup()
	n := 0
	for x := lo; x < hi && n < k; x++ {
		if g.elig[x] && g.addUser(x) {
			n++
		}
	}
	return n
}

// fill completes a group of fewer than k users at a node whose subtree holds k, with
// check-ins of the classes released below it, moving as little area as it can: a moved
// check-in costs the area between its class's cell and the node's (AvgAreaKm2), so it
// takes, cheapest per new user first, (1) a second check-in of a user a class keeps,
// (2) the check-ins of one user of a class with more than k users, and only then (3) a
// whole class. It returns the members and their users.
func (g *grouper) fill(k int, members []int32, lo, hi int32, res, maxRes int, cls []mclass,
	byLevel *[geo.MaxRes + 1][]int32) ([]int32, int) {
	g.newGroup()
	users := 0
	for _, x := range members {
		if g.addUser(x) {
			users++
		}
	}
	var below []*mclass
	for lvl := res + 1; lvl <= maxRes; lvl++ {
		ids := byLevel[lvl]
		first := sort.Search(len(ids), func(i int) bool { return cls[ids[i]].pos >= lo })
		for _, id := range ids[first:] {
			c := &cls[id]
			if c.pos >= hi {
				break
			}
			if !c.dead {
				below = append(below, c)
			}
		}
	}
	nodeArea := geo.AvgAreaKm2(res)
	delta := func(c *mclass) float64 { return nodeArea - geo.AvgAreaKm2(c.res) }
	// Moves of one user each, from every class: the second check-in of a user the class
	// keeps, or all the check-ins of a user of a class above k.
	type move struct {
		c     *mclass
		items []int32
		cost  float64
		keeps bool // the class keeps the user
	}
	var moves []move
	for _, c := range below {
		byUser := slices.Clone(c.members)
		slices.SortFunc(byUser, func(a, b int32) int { return cmp.Or(cmp.Compare(g.users[a], g.users[b]), cmp.Compare(a, b)) })
		for i := 0; i < len(byUser); {
			j := i
			for j < len(byUser) && g.users[byUser[j]] == g.users[byUser[i]] {
				j++
			}
			if g.stamp[g.users[byUser[i]]] != g.gen {
				if j-i >= 2 {
					moves = append(moves, move{c: c, items: byUser[j-1 : j], cost: delta(c), keeps: true})
				} else {
					moves = append(moves, move{c: c, items: byUser[i:j], cost: delta(c)})
				}
			}
			i = j
		}
	}
	slices.SortStableFunc(moves, func(a, b move) int { return cmp.Compare(a.cost*float64(len(a.items)), b.cost*float64(len(b.items))) })
	moved := make(map[int32]bool)
	lent := make(map[*mclass]int) // users each class gave away
	for _, m := range moves {
		if users >= k {
			break
		}
		u := g.users[m.items[0]]
		if g.stamp[u] == g.gen || (!m.keeps && m.c.users-lent[m.c] <= k) {
			continue // the user joined already, or the class cannot spare one more
		}
		g.addUser(m.items[0])
		users++
		if !m.keeps {
			lent[m.c]++
		}
		for _, x := range m.items {
			members = append(members, x)
			moved[x] = true
		}
	}
	// Whole classes, the cheapest per user they add first.
	dissolved := make(map[*mclass]bool)
	for users < k {
		var best *mclass
		bestCost := 0.0
		for _, c := range below {
			if dissolved[c] {
				continue
			}
			added := 0
			g.newGroupKeep()
			n := 0
			for _, x := range c.members {
				if moved[x] {
					continue
				}
				n++
				if g.isNewUser(x) {
					added++
				}
			}
			if added == 0 {
				continue
			}
			if cc := float64(n) * delta(c) / float64(added); best == nil || cc < bestCost {
				best, bestCost = c, cc
			}
		}
		if best == nil {
			break // cannot happen: the subtree holds k users
		}
		dissolved[best] = true
		for _, x := range best.members {
			if moved[x] {
				continue
			}
			if g.addUser(x) {
				users++
			}
			members = append(members, x)
			moved[x] = true
		}
	}
	for _, c := range below {
		if dissolved[c] {
			c.dead, c.members = true, nil
			continue
		}
		c.users -= lent[c]
		if len(moved) > 0 {
			c.members = slices.DeleteFunc(c.members, func(x int32) bool { return moved[x] })
		}
	}
	slices.Sort(members)
	return members, users
}
