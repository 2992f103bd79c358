package pipeline

// grouper runs a generalization over the items of one window, sorted by cell, so that
// the descendants of any cell are contiguous. It counts distinct users with a stamp per
// dense user index: O(1) per item, no map.
type grouper struct {
	items []item
	users []int32 // dense user index per item
	stamp []uint32
	gen   uint32
	rem   []int32 // candidate item indices, in item order
}

func (g *grouper) reset(items []item, users []int32, nUsers int) {
	g.items, g.users = items, users
	if cap(g.stamp) < nUsers {
		g.stamp = make([]uint32, nUsers)
		g.gen = 0
	}
	g.stamp = g.stamp[:nUsers]
	g.rem = g.rem[:0]
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

// greedy is the generalization of DESIGN.md: from the finest resolution to the
// coarsest, group the remaining items by their ancestor cell and release every group
// with at least k distinct users; what remains at the end is suppressed (below_k).
// G1 holds by construction: a class is exactly one released group, counted when it is
// released. outcome gets the class index of released items and -BelowK for the rest.
func (g *grouper) greedy(k, maxRes, minRes int, outcome []int32, classes []Class) ([]int32, []Class) {
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
	return outcome, classes
}

// countUsers counts the distinct users of the items in idx.
func (g *grouper) countUsers(idx []int32) int {
	g.newGroup()
	n := 0
	for _, x := range idx {
		if g.addUser(x) {
			n++
		}
	}
	return n
}
