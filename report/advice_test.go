package report

import (
	"testing"
	"time"

	"github.com/geocloak/geocloak/cloak"
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
	got := Suggest(grid)
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
	got = Suggest(append(grid[:4:4], grid[5:]...))
	if p := got[0].To; p.Window != 4*time.Hour || p.K != 10 || p.MaxRes != 9 {
		t.Errorf("precision trade: %+v, want window 4h", got[0])
	}
	// Nothing gains a point: nothing to suggest.
	if got := Suggest([]SweepPoint{conf, pt(20, 9, 5, time.Hour, 605, 20)}); len(got) != 0 {
		t.Errorf("suggestions %+v, want none", got)
	}
	if got := Suggest(grid[1:]); got != nil {
		t.Errorf("no configured point: %+v", got)
	}
}

func TestSuggestionText(t *testing.T) {
	from := pt(10, 9, 5, time.Hour, 620, 12)
	for _, tc := range []struct {
		sg   Suggestion
		want string
	}{
		{Suggestion{From: from, To: pt(10, 9, 5, 4*time.Hour, 810, 15)},
			"At the same k or stricter: window 1h → 4h: release 62.0% → 81.0%, mean area 12.0 → 15.0 km²; each record's time known to 4h instead of 1h."},
		{Suggestion{From: from, To: pt(5, 9, 5, time.Hour, 700, 10), LowerK: true},
			"Lowering k: k 10 → 5: release 62.0% → 70.0%, mean area 12.0 → 10.0 km²; the chance of picking out a known person's record may reach 1/5 instead of 1/10."},
		{Suggestion{From: from, To: pt(10, 8, 5, time.Hour, 700, 48)},
			"At the same k or stricter: resolutions 9..5 → 8..5: release 62.0% → 70.0%, mean area 12.0 → 48.0 km²."},
	} {
		if got := suggestionText(tc.sg); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}
