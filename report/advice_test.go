package report

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
)

// pt is a hand-made sweep point: released of 1,000 events in, at mean area km².
func pt(k, maxRes, minRes int, window time.Duration, released int, area float64) SweepPoint {
	return SweepPoint{K: k, MaxRes: maxRes, MinRes: minRes, Window: window,
		Stats: cloak.Stats{In: 1000, Released: released, AreaKm2: area * float64(released)}}
}

func TestSuggest(t *testing.T) {
	conf := pt(10, 9, 5, time.Hour, 600, 12)
	conf.Configured = true
	grid := []SweepPoint{
		conf,
		// Window 4h: +20 points for 2 doublings of the window and 15/12 of the area:
		// cost 2.32, 8.6 points per doubling.
		pt(10, 9, 5, 4*time.Hour, 800, 15),
		// Coarser resolutions: +10 points for area ×4 (2 doublings): 5 per doubling.
		pt(10, 8, 5, time.Hour, 700, 48),
		// Raising k costs area and gains nothing.
		pt(20, 9, 5, time.Hour, 550, 20),
		// Finer and more: +5 points at a quarter of the area: cost below minCost, 20 per
		// doubling: the best trade.
		pt(10, 10, 6, time.Hour, 650, 3),
		// Lower k, as configured otherwise: k 5 gives +15 points for a risk bound 0.1
		// higher (150 per unit), k 2 +30 points for 0.4 higher (75 per unit).
		pt(5, 9, 5, time.Hour, 750, 10),
		pt(2, 9, 5, time.Hour, 900, 8),
		// Lower k with another window is not a lower-k suggestion.
		pt(5, 9, 5, 4*time.Hour, 990, 9),
		// The grid point with the configured settings is not a change.
		func() SweepPoint { p := pt(10, 9, 5, time.Hour, 700, 12); p.FromSummary = true; return p }(),
	}
	got, _ := Suggest(grid, nil)
	if len(got) != 2 {
		t.Fatalf("%d suggestions, want 2: %+v", len(got), got)
	}
	if p := got[0].To; got[0].LowerK || p.MaxRes != 10 || p.MinRes != 6 || p.Window != time.Hour || p.K != 10 {
		t.Errorf("precision trade: %+v, want resolutions 10..6", got[0])
	}
	if p := got[1].To; !got[1].LowerK || p.K != 5 || p.Window != time.Hour {
		t.Errorf("lower k: %+v, want k 5 at 1h", got[1])
	}
	// Without the cheap finer point, the window trade wins over coarser cells.
	got, _ = Suggest(append(grid[:4:4], grid[5:]...), nil)
	if p := got[0].To; p.Window != 4*time.Hour || p.K != 10 || p.MaxRes != 9 {
		t.Errorf("precision trade: %+v, want window 4h", got[0])
	}
	// What accept refuses is not suggested, and counted: the window trade wins.
	got, refused := Suggest(grid, func(p SweepPoint) bool { return p.MaxRes != 10 })
	if p := got[0].To; refused != 1 || p.Window != 4*time.Hour || p.MaxRes != 9 {
		t.Errorf("precision trade: %+v, %d refused; want window 4h, 1 refused", got[0], refused)
	}
	// Refusing everything: counted are the points that could have been suggested, not
	// the lower k with another window (grid has 9 points; the configured one, the
	// summary's, that one and k 20, which gains nothing, are not).
	if got, refused := Suggest(grid, func(SweepPoint) bool { return false }); len(got) != 0 || refused != 5 {
		t.Errorf("all refused: %+v, %d refused; want none, 5", got, refused)
	}
	// Nothing gains a point: nothing to suggest.
	if got, _ := Suggest([]SweepPoint{conf, pt(20, 9, 5, time.Hour, 605, 20)}, nil); len(got) != 0 {
		t.Errorf("suggestions %+v, want none", got)
	}
	if got, _ := Suggest(grid[1:], nil); got != nil {
		t.Errorf("no configured point: %+v", got)
	}
}

func TestSuggestionText(t *testing.T) {
	from := pt(10, 9, 5, time.Hour, 620, 12)
	for _, tc := range []struct {
		sg    Suggestion
		mates []string
		want  string
	}{
		{Suggestion{From: from, To: pt(10, 9, 5, 4*time.Hour, 810, 15)}, []string{"b"},
			"At the same k: window 1h → 4h (for every partner: the job has one window): release 62.0% → 81.0%, mean area 12.0 → 15.0 km²; each record's time known to 4h instead of 1h."},
		{Suggestion{From: from, To: pt(5, 9, 5, time.Hour, 700, 10), LowerK: true}, []string{"b", "c"},
			"Lowering k: k 10 → 5 (for b and c too: partners of one stream build the same classes): release 62.0% → 70.0%, mean area 12.0 → 10.0 km²; the chance of picking out a known person's record may reach 1/5 instead of 1/10."},
		{Suggestion{From: from, To: pt(10, 8, 5, time.Hour, 700, 48)}, nil,
			"At the same k: resolutions 9..5 → 8..5: release 62.0% → 70.0%, mean area 12.0 → 48.0 km²."},
		{Suggestion{From: from, To: pt(20, 8, 5, 4*time.Hour, 700, 48)}, []string{"b", "c", "d"},
			"At a higher k (stricter): window 1h → 4h (for every partner: the job has one window), resolutions 9..5 → 8..5, k 10 → 20 (for b, c and d too: partners of one stream build the same classes): release 62.0% → 70.0%, mean area 12.0 → 48.0 km²; each record's time known to 4h instead of 1h."},
	} {
		if got := suggestionText(tc.sg, tc.mates); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

// A suggestion is one config check accepts applied to the whole configuration: the
// window for the job, k and resolutions for every partner that must build the same
// classes; a strict dp partner stays strict dp.
func TestChanges(t *testing.T) {
	// acme-ads (k 10, 9..5) next to metro-insights (dp, 5..5, k 20: strict dp).
	example, err := config.Load("../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	city := loadConfig(t) // acme-ads, metro-insights and beacon-media: one class layout
	alone := *example
	alone.Partners = example.Partners[1:]
	alternatives := *city
	alternatives.Partners = slices.Clone(city.Partners)
	alternatives.Partners[1].K = 20 // config check refuses this set
	if alternatives.Validate() == nil || alternatives.ValidateAlternatives() != nil {
		t.Fatal("the alternatives config should be refused as a set and valid as policies")
	}
	// metro-insights with dp over several resolutions (classes built for 29 users) next
	// to partners of k 29: the same classes, each with a k of its own.
	dpMate := *city
	dpMate.Partners = slices.Clone(city.Partners)
	dpMate.Partners[1].DP = &config.DP{Epsilon: 1, Delta: 1e-3}
	for i := range dpMate.Partners {
		if i != 1 {
			dpMate.Partners[i].K = dpMate.Partners[1].ClassK()
		}
	}
	if err := dpMate.Validate(); err != nil || dpMate.Partners[1].ClassK() == dpMate.Partners[1].K {
		t.Fatalf("the dp-mate config should be valid, with a class target above k: %v", err)
	}
	point := func(partner, k, maxRes, minRes int, window time.Duration) SweepPoint {
		return SweepPoint{Partner: partner, K: k, MaxRes: maxRes, MinRes: minRes, Window: window}
	}
	for _, tc := range []struct {
		name  string
		cfg   *config.Config
		p     SweepPoint
		mates []int
		want  bool
	}{
		// min_resolution 6 next to metro-insights' 5 (seen on the Gowalla sample).
		{"finer next to strict dp", example, point(0, 10, 10, 6, 4*time.Hour), nil, false},
		{"coarser min next to strict dp", example, point(0, 10, 9, 4, time.Hour), nil, false},
		{"max_resolution next to strict dp", example, point(0, 10, 8, 5, 4*time.Hour), nil, true},
		{"lower k next to strict dp", example, point(0, 5, 9, 5, time.Hour), nil, true},
		// The strict dp partner at several resolutions would share acme-ads' k and
		// max_resolution (seen: "window 1h → 4h, resolutions 5..5 → 9..5").
		{"strict dp to several resolutions", example, point(1, 20, 9, 5, 4*time.Hour), nil, false},
		{"strict dp, longer window", example, point(1, 20, 5, 5, 4*time.Hour), nil, true},
		{"strict dp, lower k", example, point(1, 10, 5, 5, time.Hour), nil, true},
		{"strict dp alone, several resolutions", &alone, point(0, 20, 8, 5, time.Hour), nil, false},
		{"one layout, all change", city, point(0, 10, 9, 4, time.Hour), []int{1, 2}, true},
		{"one layout, lower k", city, point(2, 5, 9, 5, time.Hour), []int{0, 1}, true},
		{"alternatives", &alternatives, point(0, 10, 9, 4, time.Hour), nil, true},
		// Next to a dp partner over several resolutions: what the point keeps is not
		// copied onto the mates, so a window or resolutions change passes; a k change not.
		{"dp mate, window", &dpMate, point(0, 29, 9, 5, 4*time.Hour), []int{1, 2}, true},
		{"dp mate, resolutions", &dpMate, point(2, 29, 9, 4, time.Hour), []int{0, 1}, true},
		{"dp mate, k", &dpMate, point(0, 40, 9, 5, time.Hour), []int{1, 2}, false},
		{"the dp mate, window", &dpMate, point(1, 10, 9, 5, 4*time.Hour), []int{0, 2}, true},
	} {
		ch := NewChanges(tc.cfg, tc.p.Partner)
		if got := ch.Accepts(tc.p); got != tc.want || !slices.Equal(ch.Mates, tc.mates) {
			t.Errorf("%s: accepts %v, mates %v; want %v, %v", tc.name, got, ch.Mates, tc.want, tc.mates)
		}
	}
	if example.Partners[0].MinResolution != 5 || example.Window.Size.D() != time.Hour {
		t.Error("Accepts changed the configuration it checks")
	}

	// The page says why there is no suggestion.
	conf := pt(20, 5, 5, time.Hour, 450, 240)
	conf.Partner, conf.Configured = 1, true
	wider := pt(20, 9, 5, 4*time.Hour, 500, 90)
	wider.Partner = 1
	got, why := advice([]SweepPoint{conf, wider}, example, 1)
	if len(got) != 0 || !strings.Contains(why, "1 setting releases more") || !strings.Contains(why, "strict dp") {
		t.Errorf("advice %q, %q", got, why)
	}
}
