package report

import (
	"fmt"
	"strconv"
	"strings"
)

// The attack figures as the page shows them: the glance line of each partner and the
// rows of its attack table. The figures themselves are computed in attack.go.

func glance(pr *PartnerReport, pv *partnerView) glanceRow {
	st := &pr.Stats
	g := glanceRow{Anchor: pv.Anchor, Name: pr.Policy.Name, Policy: fmt.Sprintf("k=%d, res %d..%d",
		pr.Policy.K, pr.Policy.MaxResolution, pr.Policy.MinResolution),
		Rate: Percent(st.Released, st.In), Area: pv.MeanArea, Smallest: dash(st.MinClassUsers), MaxRisk: "-", Risk: "-"}
	if sz := &pr.Sizes; sz.Classes > 0 {
		g.MaxRisk = fixed(sz.MaxRisk, 3)
		g.Risk, g.RiskNote = fixed(sz.MeanRisk, 3), "random choice: "+fixed(sz.RandomRisk, 4)
	}
	h := &pr.Home
	guess := share(h.GuessLocated, h.Eligible) + " by one constant guess"
	if h.Guess != 0 {
		if a, err := h.Guess.AreaKm2(); err == nil {
			guess += " (a " + AreaText(a) + " km² cell)"
		}
	}
	if pr.Linkable {
		g.Unicity, g.UnicityNote = "n/a", unicityAt(pr, 4)+" if a pseudonym linked a day"
		g.Home, g.HomeNote = "0%", share(h.Located, h.Eligible)+" if linked a day; "+guess
	} else {
		g.Unicity, g.UnicityNote = "n/a", "counts mode: no record to link"
		g.Home, g.HomeNote = "0%", guess
	}
	return g
}

// unicityAt is the unicity share for p known points ("-" when not computed).
func unicityAt(pr *PartnerReport, p int) string {
	for _, u := range pr.Unicity {
		if u.P == p {
			return share(u.Unique, u.Considered)
		}
	}
	return "-"
}

func attackRows(pr *PartnerReport, r *Report) []attackRow {
	p := &pr.Policy
	sz := &pr.Sizes
	var rows []attackRow
	add := func(group, figure, value, note string, strong bool) {
		rows = append(rows, attackRow{Group: group, Figure: figure, Value: value, Note: note, Strong: strong})
	}
	if sz.Classes == 0 {
		add("Class sizes", "released classes", "0", "nothing released: no class to attack", false)
	} else {
		add("Class sizes", "released classes", Thousands(int64(sz.Classes)), "a class is (window, cell): its records are indistinguishable", false)
		note := fmt.Sprintf("never below k = %d (G1)", p.K)
		if p.DP != nil {
			note += "; true counts: the partner receives noisy ones"
		}
		add("", "distinct users per class: min / Q1 / median / Q3 / max",
			fmt.Sprintf("%d / %d / %d / %d / %d", sz.Min, sz.Q1, sz.Median, sz.Q3, sz.Max), note, false)
		add("Picking out a record", "maximum prosecutor risk, 1 / smallest class", fixed(sz.MaxRisk, 3),
			fmt.Sprintf("at most 1/k = %s by construction", fixed(1/float64(p.K), 3)), true)
		add("", fmt.Sprintf("mean prosecutor risk over the %s records received", Thousands(int64(sz.Records))), fixed(sz.MeanRisk, 3),
			"chance of picking out a known person's record knowing the window and the cell, averaged over records", false)
		lift := "-"
		if sz.RandomRisk > 0 {
			lift = fixed(sz.MeanRisk/sz.RandomRisk, 1) + " times the random choice"
		}
		add("", "baseline: random choice among the people of the window", fixed(sz.RandomRisk, 4),
			"knowing only the window: 1 / distinct users released in it, averaged over the same records; knowing the cell gives "+lift, false)
	}
	if tu := &pr.Tuples; tu.Applies && tu.Records > 0 {
		what := "(window, cell, resolution): no category shown"
		if p.Has("category") {
			what = "(window, cell, resolution, category as shown)"
		}
		add("", "released tuples "+what, Thousands(int64(tu.Tuples)),
			fmt.Sprintf("what the partner can tell apart; the smallest has %d distinct users", tu.MinUsers), false)
		add("", "records whose tuple has fewer than k users", fmt.Sprintf("%s (%s of released)",
			Thousands(int64(tu.RecordsBelowK)), Percent(tu.RecordsBelowK, tu.Records)),
			fmt.Sprintf("recomputed from what was released: must read 0 (G1, k = %d)", p.K), true)
		add("", "one known visit (place, hour, kind of venue) picks out the person's record", fixed(tu.PickOut, 3),
			"1 / records of the tuple holding it, averaged over released records", true)
		add("", "baseline: knowing the place and hour only", fixed(tu.PickOutClass, 3),
			"1 / records of the class: what showing the category adds is the difference", false)
	}
	if g := &pr.Groups; sz.Classes > 0 {
		note := "people who move together would be followed from window to window by one known visit of one of them; none here"
		if g.Classes > 0 {
			note = fmt.Sprintf("%s users; the longest run %d windows: people who move together, followed from window to window "+
				"by one known visit of one of them (k-anonymity holds in each window, not across windows)", Thousands(int64(g.Users)), g.Longest)
		}
		add("Following a group", "classes with exactly the users of a class of the window before", Thousands(int64(g.Classes)), note, g.Classes > 0)
	}
	period := durationText(LinkPeriod)
	if !pr.Linkable {
		add("Unicity", "p = 1, 2, 4 known points", "does not apply",
			"counts mode: one record per class, nothing a pseudonym could be attached to, so records cannot be linked into traces", false)
	} else {
		add("Unicity", "as released", "does not apply",
			"records carry no pseudonym: no trace can be built, unicity does not apply", true)
		for _, u := range pr.Unicity {
			add("", fmt.Sprintf("p = %d: traces unique if a pseudonym linked each person's records for %s", u.P, period), share(u.Unique, u.Considered),
				fmt.Sprintf("hypothetical: %s of %s traces with at least %s", Thousands(int64(u.Unique)), Thousands(int64(u.Considered)), points(u.P)), false)
		}
	}
	h := &pr.Home
	add("Home inference", "eligible users (at least 3 night-time check-ins in the input)",
		fmt.Sprintf("%s of %s", Thousands(int64(h.Eligible)), Thousands(int64(r.Users))),
		fmt.Sprintf("home = most frequent night-time cell at resolution %d", p.MaxResolution), false)
	if !pr.Linkable {
		add("", "located as released", Percent(0, h.Eligible), "counts mode: a record is a class, never one person's", true)
	} else {
		located := fmt.Sprintf("%s (%s users); mean area %s km²; %s at resolution %d", share(h.Located, h.Eligible),
			Thousands(int64(h.Located)), AreaText(h.MeanAreaKm2), share(h.LocatedAtMax, h.Eligible), p.MaxResolution)
		if h.Located == 0 {
			located = Percent(0, h.Eligible)
		}
		add("", "located as released", Percent(0, h.Eligible), "no pseudonym: a record cannot be attributed to a person", true)
		add("", fmt.Sprintf("located if a pseudonym linked each person's records for %s", period), located,
			"hypothetical: the trace's most frequent night-time released cell holds the user's home", false)
	}
	if h.Guess == 0 {
		add("", "baseline: one constant guess for everyone", "-", "nothing released at night", false)
	} else {
		a, _ := h.Guess.AreaKm2()
		note := fmt.Sprintf("every home guessed to be the busiest night-time released cell (resolution %d, %s km²): needs no linking, so the release gives this much away as it is",
			h.Guess.Res(), AreaText(a))
		if pr.Linkable && h.Eligible > 0 {
			note += fmt.Sprintf("; linking a day adds %s points", fixed(100*float64(h.Located-h.GuessLocated)/float64(h.Eligible), 1))
		}
		add("", "baseline: one constant guess for everyone", share(h.GuessLocated, h.Eligible), note, true)
	}
	add("", "home cells visible as crowds", share(h.Crowds, h.Eligible),
		fmt.Sprintf("home cell at resolution %d released as a class in a night-time window: k people there, not the person", p.MaxResolution), false)
	c := &pr.Cat
	add("Categories", "suppressed as sensitive_category", fmt.Sprintf("%s (%s of events in)",
		Thousands(int64(c.Sensitive)), Percent(c.Sensitive, pr.Stats.In)),
		fmt.Sprintf("sensitive groups of the taxonomy (released: %s), and %d names or groups of suppress_categories",
			orNoneText(strings.Join(p.ReleaseSensitiveGroups, ", ")), len(p.SuppressCategories)), false)
	if p.LDiversity > 0 {
		add("", fmt.Sprintf("released without category (l-diversity, l = %d)", p.LDiversity),
			fmt.Sprintf("%s (%s of released)", Thousands(int64(c.NoCategory)), Percent(c.NoCategory, c.Records)),
			"classes with fewer than l categories lose them", false)
	} else {
		add("", "released without category (l-diversity)", "off", "l_diversity is 0", false)
	}
	if c.Released {
		add("", "released check-ins with a known category that keep one", fmt.Sprintf("%s of %s (%s)",
			Thousands(int64(c.WithCategory)), Thousands(int64(c.Categorised)), Percent(c.WithCategory, c.Categorised)),
			fmt.Sprintf("%s their venue category, the rest its group; the others show none: fewer than k users of their class shared it", Thousands(int64(c.Leaf))), true)
	} else {
		add("", "released records carrying a category", "none", "category is not in this partner's fields", false)
	}
	return rows
}

func points(n int) string {
	if n == 1 {
		return "1 point"
	}
	return strconv.Itoa(n) + " points"
}

func orNoneText(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
