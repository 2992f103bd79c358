package report

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/synth"
)

// differencing evaluates input for cfg and returns the cross-partner check.
func differencing(t *testing.T, cfg *config.Config, input []byte) []DiffPair {
	t.Helper()
	d := NewDiffCollector(len(cfg.Partners), nil)
	if _, err := cloak.Evaluate(context.Background(), bytes.NewReader(input),
		cloak.EvalOptions{Config: cfg, Key: testKey, Now: testNow}, d); err != nil {
		t.Fatal(err)
	}
	return d.Differencing(cfg)
}

// The check finds what a colluding pair can subtract: two partners that differ in
// min_resolution (config check refuses them) let it count the check-ins of sparse cells
// that one of them suppressed; so do greedy next to maximal, and a differing cap.
func TestDifferencingFindsGroups(t *testing.T) {
	input := smallCity(t)
	base := func() *config.Config {
		cfg := config.Default()
		a := config.DefaultPartner()
		a.Name, a.Topic, a.Fields = "a", "t.a", config.DefaultFields(config.ModeEvents)
		b := a
		b.Name, b.Topic = "b", "t.b"
		cfg.Partners = []config.Partner{a, b}
		return &cfg
	}
	for _, tt := range []struct {
		name string
		edit func(b *config.Partner)
	}{
		{"min_resolution", func(b *config.Partner) { b.MinResolution = 4 }},
		{"greedy", func(b *config.Partner) { b.Generalization = config.Greedy }},
		{"cap", func(b *config.Partner) { b.MaxCheckinsPerUserPerWindow = 2 }},
	} {
		cfg := base()
		tt.edit(&cfg.Partners[1])
		if err := cfg.Validate(); err == nil {
			t.Fatalf("%s: config check accepts the pair", tt.name)
		}
		got := differencing(t, cfg, input)
		if len(got) != 1 || got[0].Groups == 0 || got[0].Cells == 0 {
			t.Errorf("%s: %+v, want groups found", tt.name, got)
		}
		t.Logf("%s: %d groups of 1 to k-1 check-ins over %d places compared, smallest %d", tt.name, got[0].Groups, got[0].Cells, got[0].Smallest)
	}
}

// Category tuples are subtracted too, on hand-made releases: partner a shows "Coffee
// Shop" for 10 check-ins in res-9 cell X; partner b, whose class is X's res-8 parent P,
// shows it for 13 (and 12 without category); a has 15 without category in X's sibling Y.
// P is closed for both: 3 coffee-shop check-ins are derived in P outside X.
func TestDifferencingCategories(t *testing.T) {
	x, err := geo.CellOf(geo.Point{Lat: 45.764, Lng: 4.8357}, 9)
	if err != nil {
		t.Fatal(err)
	}
	var y geo.Cell
	for i := 1; y == 0 && i < 400; i++ { // a spiral around X's centre
		a, d := float64(i)*0.7, float64(i)*0.00002
		c, _ := geo.CellOf(geo.Point{Lat: 45.764 + d*math.Sin(a), Lng: 4.8357 + d*math.Cos(a)}, 9)
		if c != x && c.Parent(8) == x.Parent(8) {
			y = c
		}
	}
	if y == 0 {
		t.Fatal("no sibling cell found")
	}
	pa, pb := config.DefaultPartner(), config.DefaultPartner()
	pb.K = 12
	a := []diffClass{
		{cell: x, checkins: 10, labels: map[string]int{"Coffee Shop": 10}},
		{cell: y, checkins: 15, labels: map[string]int{"": 15}},
	}
	b := []diffClass{{cell: x.Parent(8), checkins: 25, labels: map[string]int{"Coffee Shop": 13, "": 12}}}
	got := diffPair(0, 1, pa, pb, a, b)
	if !got.Categories || got.Groups != 1 || got.Smallest != 3 {
		t.Errorf("%+v, want one group of 3 check-ins", got)
	}
	// Without categories the totals agree: nothing is derived.
	for i := range a {
		a[i].labels = nil
	}
	b[0].labels = nil
	if got := diffPair(0, 1, pa, pb, a, b); got.Groups != 0 || got.Categories {
		t.Errorf("without categories: %+v, want no group", got)
	}
}

// For any set of partners config check accepts, no pair can subtract a group of fewer
// than k check-ins: random accepted policies over random cities.
func TestDifferencingZeroWhenAccepted(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tried, compared := 0, 0
	for round := 0; tried < 25; round++ {
		cfg := config.Default()
		cfg.Window.Size = config.Duration([]time.Duration{15 * time.Minute, time.Hour, 4 * time.Hour}[r.IntN(3)])
		minRes := 4 + r.IntN(3)
		capN := r.IntN(3)
		var suppress []string
		if r.IntN(2) == 0 {
			suppress = []string{"food"}
		}
		n := 2 + r.IntN(3)
		k, maxRes := 2+r.IntN(20), minRes+r.IntN(5)
		for i := range n {
			p := config.DefaultPartner()
			p.Name, p.Topic = fmt.Sprintf("p%d", i), fmt.Sprintf("t.p%d", i)
			p.Mode = []config.Mode{config.ModeEvents, config.ModeCounts}[r.IntN(2)]
			p.K = k
			p.MinResolution, p.MaxResolution = minRes, maxRes
			p.MaxCheckinsPerUserPerWindow = capN
			p.SuppressCategories = suppress
			p.Fields = config.DefaultFields(p.Mode)
			if p.Mode == config.ModeEvents && r.IntN(2) == 0 {
				p.Fields = p.Fields[:4] // no category
			}
			if p.Mode == config.ModeEvents && p.Has("category") && r.IntN(3) == 0 {
				p.LDiversity = 2
			}
			if i == n-1 && capN > 0 && r.IntN(2) == 0 {
				// a dp partner at one resolution, with a k of its own: left out of
				// the check (its counts are noisy), it must not change the others
				p.Mode, p.Fields, p.LDiversity = config.ModeCounts, config.DefaultFields(config.ModeCounts), 0
				p.K, p.MaxResolution = 2+r.IntN(30), minRes
				p.DP = &config.DP{Epsilon: 1, Delta: 1e-6}
			}
			cfg.Partners = append(cfg.Partners, p)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("a set of one layout is refused: %v", err)
		}
		tried++
		sc := synth.DefaultConfig()
		sc.Users, sc.Days, sc.Seed = 300+r.IntN(1500), 1, int64(round)
		var in bytes.Buffer
		if _, err := synth.Generate(sc, &in); err != nil {
			t.Fatal(err)
		}
		dc := NewDiffCollector(len(cfg.Partners), nil)
		if _, err := cloak.Evaluate(context.Background(), bytes.NewReader(in.Bytes()),
			cloak.EvalOptions{Config: &cfg, Key: testKey, Now: testNow}, dc); err != nil {
			t.Fatal(err)
		}
		// Partners of one layout receive the same classes (cell, window, check-ins),
		// whatever they show of them: nothing is left to subtract, bound or intersect.
		layout := func(p int) []string {
			var out []string
			for _, c := range dc.classes[p] {
				out = append(out, fmt.Sprintf("%d/%v/%d", c.start, c.cell, c.checkins))
			}
			slices.Sort(out)
			return out
		}
		for p := 1; p < len(cfg.Partners); p++ {
			if cfg.Partners[p].DP == nil && !slices.Equal(layout(0), layout(p)) {
				t.Fatalf("accepted partners p0 and p%d receive different classes\n%+v", p, cfg.Partners)
			}
		}
		for _, d := range dc.Differencing(&cfg) {
			if d.Groups != 0 {
				t.Fatalf("accepted partners %s and %s: %d groups (smallest %d) derivable over %d places\n%+v",
					cfg.Partners[d.A].Name, cfg.Partners[d.B].Name, d.Groups, d.Smallest, d.Cells, cfg.Partners)
			}
			compared += d.Cells
		}
	}
	if compared == 0 {
		t.Fatal("no place was ever compared: the test proves nothing")
	}
	if tried < 25 {
		t.Fatalf("only %d accepted sets drawn", tried)
	}
}

// User counts do not add up across classes when a user has several check-ins: a partner
// that releases users next to another with finer classes lets the pair count the people
// who checked in in two cells (the reviewer's attack): found on hand-made releases, and
// config check refuses the pair.
func TestDifferencingUsers(t *testing.T) {
	x, _ := geo.CellOf(geo.Point{Lat: 45.764, Lng: 4.8357}, 9)
	y, _ := geo.CellOf(geo.Point{Lat: 45.766, Lng: 4.839}, 9)
	p := x.Parent(7)
	if y.Parent(7) != p {
		t.Fatal("cells not under one res-7 cell")
	}
	fine, coarse := config.DefaultPartner(), config.DefaultPartner()
	fine.Mode, coarse.Mode = config.ModeCounts, config.ModeCounts
	fine.Fields, coarse.Fields = config.DefaultFields(config.ModeCounts), config.DefaultFields(config.ModeCounts)
	fine.MaxResolution, fine.MinResolution, coarse.MaxResolution, coarse.MinResolution = 9, 7, 7, 7
	fine.MaxCheckinsPerUserPerWindow, coarse.MaxCheckinsPerUserPerWindow = 2, 2
	a := []diffClass{{cell: x, checkins: 10, users: 10}, {cell: y, checkins: 10, users: 10}}
	b := []diffClass{{cell: p, checkins: 20, users: 19}}
	got := diffPair(0, 1, fine, coarse, a, b)
	if !got.Users || got.Groups != 1 || got.Smallest != 1 {
		t.Errorf("%+v, want one group of 1 (the person in both cells)", got)
	}
	cfg := config.Default()
	fine.Name, fine.Topic, coarse.Name, coarse.Topic = "fine", "t.fine", "coarse", "t.coarse"
	cfg.Partners = []config.Partner{fine, coarse}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "partners[1].max_resolution: 7 differs from partners[0] (9)") {
		t.Errorf("config check: %v", err)
	}
}

// A pair that builds different classes (evaluate --alternatives compares such policies)
// is never reported safe: the check does not count the lower-bounds attack.
func TestDiffRowsDifferentClasses(t *testing.T) {
	cfg := config.Default()
	a, b := config.DefaultPartner(), config.DefaultPartner()
	a.Name, b.Name = "a", "b"
	cfg.Partners = []config.Partner{a, b}
	r := &Report{Config: &cfg, Differencing: []DiffPair{{A: 0, B: 1, Cells: 3}}}
	rows, _ := diffRows(r)
	if len(rows) != 1 || rows[0].Bad || !strings.Contains(rows[0].Note, "same classes") {
		t.Errorf("one layout: %+v", rows)
	}
	cfg.Partners[1].K = 20
	rows, _ = diffRows(r)
	if len(rows) != 1 || !rows[0].Bad || !strings.Contains(rows[0].Note, "lower bounds") {
		t.Errorf("k 10 and 20: %+v", rows)
	}
}
