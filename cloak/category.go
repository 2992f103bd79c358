package cloak

import (
	"cmp"
	"slices"
)

// labeler decides which category each record of a released class shows, so that every
// tuple a partner can tell apart, (window, cell, resolution, category as shown), holds at
// least k distinct users (G1):
//
//  1. a record shows its venue category when k users of the class have that category;
//  2. else its taxonomy group, when k users of the class whose records show no category
//     yet are in that group;
//  3. else nothing. When the records that show nothing come from fewer than k users (but
//     some), the smallest tuples, by users, then records, then name, are moved to them
//     until they reach k: the class has k users, so they always do;
//  4. l-diversity, on the categories as shown: a class that would show categories of
//     fewer than l distinct groups shows none ("Coffee Shop" and "Food" are one group:
//     together they still tell that everyone was at a food place).
//
// The location classes are decided first and stay as they are: categories never cost a
// released check-in, only detail. Every choice depends on the class's own events (user
// ranks, label names), never on arrival order.
type labeler struct {
	stamp []uint32 // per user rank of the partition cell: gen when counted
	gen   uint32
	tmp   []int32
}

type tuple struct {
	label int32
	users int
	n     int
}

// newCount starts a distinct-user count over user ranks below n.
func (lb *labeler) newCount(n int) {
	if len(lb.stamp) < n {
		lb.stamp = make([]uint32, n)
		lb.gen = 0
	}
	lb.gen++
	if lb.gen == 0 {
		clear(lb.stamp)
		lb.gen = 1
	}
}

// add counts user rank u and reports whether it was new.
func (lb *labeler) add(u int32) bool {
	if lb.stamp[u] == lb.gen {
		return false
	}
	lb.stamp[u] = lb.gen
	return true
}

// label sets pr.label for the members m of class cl.
func (lb *labeler) label(r *Releaser, pr *PartnerRelease, cl *Class, m []int32) {
	k := pr.Policy.K
	items, cats, users := r.rel.items, r.rel.cats, r.users
	maxRank := int32(0)
	for _, x := range m {
		maxRank = max(maxRank, users[x])
	}
	nRanks := int(maxRank) + 1

	// levelOf is a member's label at one level: its leaf, or its group.
	assign := func(cand []int32, levelOf func(x int32) int32) {
		slices.SortFunc(cand, func(a, b int32) int {
			return cmp.Or(cmp.Compare(levelOf(a), levelOf(b)), cmp.Compare(users[a], users[b]))
		})
		for i := 0; i < len(cand); {
			l := levelOf(cand[i])
			j, n := i, 0
			for ; j < len(cand) && levelOf(cand[j]) == l; j++ {
				if j == i || users[cand[j]] != users[cand[j-1]] {
					n++
				}
			}
			if l >= 0 && n >= k {
				for _, x := range cand[i:j] {
					pr.label[x] = l
				}
			}
			i = j
		}
	}
	cand := append(lb.tmp[:0], m...)
	assign(cand, func(x int32) int32 { return cats[items[x].cat].leaf })
	cand = cand[:0]
	for _, x := range m {
		if pr.label[x] < 0 {
			cand = append(cand, x)
		}
	}
	assign(cand, func(x int32) int32 { return cats[items[x].cat].glabl })
	lb.tmp = cand

	// The records that show nothing must hold k users too, or none.
	lb.newCount(nRanks)
	none := 0
	for _, x := range m {
		if pr.label[x] < 0 && lb.add(users[x]) {
			none++
		}
	}
	if none > 0 && none < k {
		tuples := lb.tuples(r, pr, m, nRanks)
		labels := r.rel.labels
		slices.SortFunc(tuples, func(a, b tuple) int {
			return cmp.Or(cmp.Compare(a.users, b.users), cmp.Compare(a.n, b.n), cmp.Compare(labels[a.label], labels[b.label]))
		})
		// Recount the records without category, then add tuples to them.
		lb.newCount(nRanks)
		for _, x := range m {
			if pr.label[x] < 0 {
				lb.add(users[x])
			}
		}
		for _, t := range tuples {
			if none >= k {
				break
			}
			for _, x := range m {
				if pr.label[x] == t.label {
					pr.label[x] = -1
					if lb.add(users[x]) {
						none++
					}
				}
			}
		}
	}

	if l := pr.Policy.LDiversity; l > 0 {
		shown := lb.tuples(r, pr, m, nRanks)
		groups := make(map[int]bool, len(shown))
		for _, t := range shown {
			groups[r.rel.labelGrp[t.label]] = true
		}
		if len(groups) > 0 && len(groups) < l {
			// Fewer than l categories would tell what most of the class was doing.
			for _, x := range m {
				pr.label[x] = -1
			}
			cl.NoCategory = true
		}
	}
}

// tuples lists the labels members m show, with their distinct users and records.
func (lb *labeler) tuples(r *Releaser, pr *PartnerRelease, m []int32, nRanks int) []tuple {
	byLabel := append(lb.tmp[:0], m...)
	slices.SortFunc(byLabel, func(a, b int32) int {
		return cmp.Or(cmp.Compare(pr.label[a], pr.label[b]), cmp.Compare(r.users[a], r.users[b]))
	})
	lb.tmp = byLabel
	var out []tuple
	for i := 0; i < len(byLabel); {
		l := pr.label[byLabel[i]]
		t := tuple{label: l}
		j := i
		for ; j < len(byLabel) && pr.label[byLabel[j]] == l; j++ {
			if j == i || r.users[byLabel[j]] != r.users[byLabel[j-1]] {
				t.users++
			}
			t.n++
		}
		if l >= 0 {
			out = append(out, t)
		}
		i = j
	}
	return out
}

// tupleUsers counts the distinct users of the leading members of m that show the same
// category as m[0].
func (lb *labeler) tupleUsers(r *Releaser, pr *PartnerRelease, m []int32) int {
	l := pr.label[m[0]]
	maxRank := int32(0)
	j := 0
	for ; j < len(m) && pr.label[m[j]] == l; j++ {
		maxRank = max(maxRank, r.users[m[j]])
	}
	lb.newCount(int(maxRank) + 1)
	n := 0
	for _, x := range m[:j] {
		if lb.add(r.users[x]) {
			n++
		}
	}
	return n
}
