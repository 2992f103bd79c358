package report

import (
	"math"
	"testing"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/geo"
)

// Hand-made collectors: events and classes are added directly, so that every figure of
// the attacks can be worked out on paper.

func (c *Collector) addClass(p int, cell geo.Cell, start int64, users, checkins int) int32 {
	c.classes[p] = append(c.classes[p], class{cell: cell, start: start, users: int32(users), checkins: int32(checkins)})
	return int32(len(c.classes[p]) - 1)
}

// addEvent adds an event of user at fine cell and time t (ms) with one outcome per
// partner: a class index, or -Reason.
func (c *Collector) addEvent(user int32, cell geo.Cell, t int64, outcomes ...int32) {
	c.events = append(c.events, event{cell: cell, time: t, user: user})
	c.outcomes = append(c.outcomes, outcomes...)
	if int(user) >= len(c.userIdx) {
		for u := len(c.userIdx); u <= int(user); u++ {
			c.userIdx[cloak.Pseudonym(1000+u)] = int32(u)
		}
	}
}

func cellAt(t *testing.T, lat, lng float64, res int) geo.Cell {
	t.Helper()
	p, err := geo.NewPoint(lat, lng)
	if err != nil {
		t.Fatal(err)
	}
	c, err := geo.CellOf(p, res)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	hour = int64(time.Hour / time.Millisecond)
	day  = 24 * hour
)

// day0 is a Monday, 00:00 UTC.
var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()

func TestClassSizes(t *testing.T) {
	// Two windows: 0 with 30 distinct users released, 1 with 67.
	classes := []class{{users: 20, checkins: 20}, {users: 10, checkins: 10}, {users: 40, checkins: 40, start: 1},
		{users: 12, checkins: 12, start: 1}, {users: 15, checkins: 30, start: 1}}
	wu := map[int64]int{0: 30, 1: 67}
	s := classSizes(classes, wu, 10, false)
	if s.Classes != 5 || s.Min != 10 || s.Q1 != 12 || s.Median != 15 || s.Q3 != 20 || s.Max != 40 {
		t.Errorf("sizes = %+v, want min 10, Q1 12, median 15, Q3 20, max 40", s)
	}
	wantHist := []SizeBin{{10, 19, 3, 52}, {20, 39, 1, 20}, {40, 79, 1, 40}, {80, 159, 0, 0}, {160, 0, 0, 0}}
	if len(s.Hist) != len(wantHist) {
		t.Fatalf("histogram = %+v, want %+v", s.Hist, wantHist)
	}
	for i := range wantHist {
		if s.Hist[i] != wantHist[i] {
			t.Errorf("bin %d = %+v, want %+v", i, s.Hist[i], wantHist[i])
		}
	}
	// Events mode: 112 records; Σ checkins/users = 1+1+1+1+2 = 6.
	if s.Records != 112 || s.MaxRisk != 0.1 || math.Abs(s.MeanRisk-6.0/112) > 1e-12 {
		t.Errorf("records %d, max risk %v, mean risk %v; want 112, 0.1, %v", s.Records, s.MaxRisk, s.MeanRisk, 6.0/112)
	}
	// Random choice: 30 records of window 0 at 1/30, 82 of window 1 at 1/67.
	if want := (30.0/30 + 82.0/67) / 112; math.Abs(s.RandomRisk-want) > 1e-12 {
		t.Errorf("random risk %v, want %v", s.RandomRisk, want)
	}
	// Counts mode: one record per class.
	c := classSizes(classes, wu, 10, true)
	want := (1.0/20 + 1.0/10 + 1.0/40 + 1.0/12 + 1.0/15) / 5
	if c.Records != 5 || math.Abs(c.MeanRisk-want) > 1e-12 {
		t.Errorf("counts mode: records %d, mean risk %v; want 5, %v", c.Records, c.MeanRisk, want)
	}
	if want := (2.0/30 + 3.0/67) / 5; math.Abs(c.RandomRisk-want) > 1e-12 {
		t.Errorf("counts mode: random risk %v, want %v", c.RandomRisk, want)
	}
	if e := classSizes(nil, nil, 10, false); e.Classes != 0 || e.Records != 0 || e.Hist != nil {
		t.Errorf("no classes: %+v", e)
	}
}

func TestUnicity(t *testing.T) {
	tr := func(points ...int32) trace { return trace{points: points} }
	tests := []struct {
		name   string
		traces []trace
		want   map[int][2]int // p -> considered, unique
	}{
		{"every point held by one trace: unique at p=1",
			[]trace{tr(0), tr(1), tr(2, 3)},
			map[int][2]int{1: {3, 3}, 2: {1, 1}, 4: {0, 0}}},
		{"two identical traces are never unique",
			[]trace{tr(0, 1, 2, 3), tr(0, 1, 2, 3)},
			map[int][2]int{1: {2, 0}, 2: {2, 0}, 4: {2, 0}}},
		{"points shared, pairs unique",
			[]trace{tr(0, 1), tr(1, 2), tr(0, 2)},
			map[int][2]int{1: {3, 0}, 2: {3, 3}, 4: {0, 0}}},
		{"a trace inside another is not unique, the larger one is at p=4",
			[]trace{tr(0, 1, 2, 3), tr(0, 1, 2), tr(0, 1, 2)},
			map[int][2]int{2: {3, 0}, 4: {1, 1}}},
		{"k users per point (k-anonymity): never unique at p=1",
			[]trace{tr(0, 2), tr(0, 3), tr(1, 2), tr(1, 3)},
			map[int][2]int{1: {4, 0}, 2: {4, 4}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for p, want := range tc.want {
				got := unicity(tc.traces, 4, []int{p})[0]
				if got.Considered != want[0] || got.Unique != want[1] {
					t.Errorf("p=%d: %d of %d unique, want %d of %d", p, got.Unique, got.Considered, want[1], want[0])
				}
			}
		})
	}
}

// A trace is one user's points within one rotation period; a class seen twice (several
// records of one user in one class) is one point.
func TestBuildTraces(t *testing.T) {
	cell := cellAt(t, 45.76, 4.84, 9)
	other := cellAt(t, 45.70, 4.80, 9)
	c := NewCollector(1, nil)
	a := c.addClass(0, cell, day0+1*hour, 5, 6)  // day 0
	b := c.addClass(0, other, day0+3*hour, 5, 5) // day 0
	d := c.addClass(0, cell, day0+day+hour, 5, 5)
	c.addEvent(0, cell, day0+1*hour+60_000, a)
	c.addEvent(0, cell, day0+1*hour+120_000, a) // same class again
	c.addEvent(0, other, day0+3*hour, b)
	c.addEvent(0, cell, day0+day+hour, d)
	c.addEvent(1, cell, day0+1*hour, a)
	c.addEvent(1, other, day0+2*hour, -int32(cloak.BelowK))

	traces := c.buildTraces(0, day)
	if len(traces) != 3 {
		t.Fatalf("%d traces with daily rotation, want 3 (user 0 on two days, user 1): %+v", len(traces), traces)
	}
	// Sorted by epoch, then points: user 1's {a} before user 0's {a, b}.
	want := [][]int32{{a}, {a, b}, {d}}
	for i, tr := range traces {
		if !equal(tr.points, want[i]) {
			t.Errorf("trace %d = %v, want %v", i, tr.points, want[i])
		}
	}
	if n := len(c.buildTraces(0, hour)); n != 4 {
		t.Errorf("%d traces with hourly rotation, want 4", n)
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNight(t *testing.T) {
	for _, tc := range []struct {
		at    int64
		night bool
	}{
		{day0 + 22*hour, true}, {day0 + 22*hour - 1, false}, {day0 + 5*hour + 59*60_000, true},
		{day0 + 6*hour, false}, {day0, true}, {day0 + 12*hour, false}, {day0 - 1, true},
	} {
		if got := nightAt(tc.at); got != tc.night {
			t.Errorf("nightAt(%s) = %v", time.UnixMilli(tc.at).UTC(), got)
		}
	}
}

func TestHomes(t *testing.T) {
	x := cellAt(t, 45.760, 4.840, 10)
	y := cellAt(t, 45.700, 4.900, 10)
	c := NewCollector(1, nil)
	night := day0 + 23*hour
	// User 0: two nights in x, one in y, and many days in y: home x.
	c.addEvent(0, x, night, -1)
	c.addEvent(0, x, night+day, -1)
	c.addEvent(0, y, night+2*day, -1)
	for i := range 5 {
		c.addEvent(0, y, day0+int64(i)*day+12*hour, -1)
	}
	// User 1: two night check-ins only: not eligible.
	c.addEvent(1, x, night, -1)
	c.addEvent(1, x, night+day, -1)
	// User 2: a tie between x and y: the smaller H3 index.
	c.addEvent(2, x, night, -1)
	c.addEvent(2, y, night+day, -1)
	c.addEvent(2, x, night+2*day, -1)
	c.addEvent(2, y, night+3*day, -1)

	homes := c.homes(9, newClock())
	if len(homes) != 2 {
		t.Fatalf("homes of %d users, want 2 (users 0 and 2): %v", len(homes), homes)
	}
	if homes[0] != x.Parent(9) {
		t.Errorf("user 0's home = %s, want %s", homes[0], x.Parent(9))
	}
	if want := min(x.Parent(9), y.Parent(9)); homes[2] != want {
		t.Errorf("user 2's home (tie) = %s, want the smaller %s", homes[2], want)
	}
}

func TestHomeAttack(t *testing.T) {
	const maxRes = 9
	home0 := cellAt(t, 45.760, 4.840, 10)
	home1 := cellAt(t, 45.700, 4.900, 10)
	home2 := cellAt(t, 45.800, 4.800, 10)
	elsewhere := cellAt(t, 45.650, 4.950, 10)
	night := day0 + 23*hour // window [23:00, 24:00): night
	noon := day0 + 12*hour

	c := NewCollector(1, nil)
	h0 := c.addClass(0, home0.Parent(maxRes), night, 10, 12)       // a res-9 class at user 0's home, at night: the busiest
	h1 := c.addClass(0, home1.Parent(7), night, 10, 10)            // user 1's home, coarsened to res 7
	away := c.addClass(0, elsewhere.Parent(maxRes), night, 10, 10) // elsewhere, at night
	day0home2 := c.addClass(0, home2.Parent(maxRes), noon, 10, 10) // user 2's home, by day only

	for n := range int64(3) {
		// User 0: home at home0; at night released twice at home0, once elsewhere.
		c.addEvent(0, home0, night+n*day, -int32(cloak.BelowK))
		// User 1: home at home1, released at home1's res-7 ancestor.
		c.addEvent(1, home1, night+n*day, -int32(cloak.BelowK))
		// User 2: home at home2; at night released only elsewhere.
		c.addEvent(2, home2, night+n*day, -int32(cloak.BelowK))
		// User 3: home at home2 too; nothing released at night.
		c.addEvent(3, home2, night+n*day, -int32(cloak.BelowK))
	}
	c.addEvent(0, home0, night+30*60_000, h0)
	c.addEvent(0, home0, night+40*60_000, h0)
	c.addEvent(0, elsewhere, night+50*60_000, away)
	c.addEvent(1, home1, night+10*60_000, h1)
	c.addEvent(2, elsewhere, night+10*60_000, away)
	c.addEvent(2, home2, noon+10*60_000, day0home2) // by day: not night-time
	c.addEvent(3, home2, noon+20*60_000, day0home2)

	got := c.homeAttack(0, maxRes, day, hour, newClock())
	a0, _ := home0.Parent(maxRes).AreaKm2()
	a1, _ := home1.Parent(7).AreaKm2()
	// The constant guess: the night-time class with the most check-ins (12), user 0's home.
	guess, guessLocated := home0.Parent(maxRes), 1
	want := Home{Eligible: 4, Located: 2, LocatedAtMax: 1, MeanAreaKm2: (2*a0 + a1) / 3, Crowds: 1, Guess: guess, GuessLocated: guessLocated}
	if got.Eligible != want.Eligible || got.Located != want.Located || got.LocatedAtMax != want.LocatedAtMax ||
		got.Crowds != want.Crowds || math.Abs(got.MeanAreaKm2-want.MeanAreaKm2) > 1e-9 ||
		got.Guess != want.Guess || got.GuessLocated != want.GuessLocated {
		t.Errorf("home attack = %+v, want %+v", got, want)
	}
}

// The constant guess is the cell with the most check-ins released at night, over every
// night-time window, and locates everyone whose home is inside it.
func TestHomeGuess(t *testing.T) {
	const maxRes = 9
	center := cellAt(t, 45.760, 4.840, 10)
	near := cellAt(t, 45.762, 4.842, 10) // in the same res-7 cell, checked below
	far := cellAt(t, 45.600, 5.100, 10)
	if center.Parent(7) != near.Parent(7) || center.Parent(maxRes) == near.Parent(maxRes) {
		t.Fatal("test cells: want one res-7 cell holding two res-9 cells")
	}
	night := day0 + 23*hour
	c := NewCollector(1, nil)
	coarse := c.addClass(0, center.Parent(7), night, 10, 12)     // 12 + 5 check-ins at night
	coarse2 := c.addClass(0, center.Parent(7), night+day, 10, 5) //
	c.addClass(0, far.Parent(maxRes), day0+12*hour, 50, 50)      // busier, but by day
	small := c.addClass(0, far.Parent(maxRes), night, 10, 10)
	// Users 0, 1 live in the res-7 cell (two different res-9 homes), user 2 far away.
	for n := range int64(3) {
		c.addEvent(0, center, night+n*day, coarse)
		c.addEvent(1, near, night+n*day, coarse2)
		c.addEvent(2, far, night+n*day, small)
	}
	got := c.homeAttack(0, maxRes, day, hour, newClock())
	if got.Eligible != 3 || got.Guess != center.Parent(7) || got.GuessLocated != 2 {
		t.Errorf("guess %s locating %d of %d, want %s locating 2 of 3", got.Guess, got.GuessLocated, got.Eligible, center.Parent(7))
	}
	// Nothing released at night: no guess.
	c2 := NewCollector(1, nil)
	x := c2.addClass(0, far.Parent(maxRes), day0+12*hour, 10, 10)
	for n := range int64(3) {
		c2.addEvent(0, far, night+n*day, -int32(cloak.BelowK))
		c2.addEvent(0, far, day0+12*hour+n, x)
	}
	if got := c2.homeAttack(0, maxRes, day, hour, newClock()); got.Guess != 0 || got.GuessLocated != 0 || got.Eligible != 1 {
		t.Errorf("no night release: %+v, want no guess", got)
	}
}

// Local mean solar time: UTC plus longitude / 15° hours, from the centre of the place's
// resolution-3 cell.
func TestClock(t *testing.T) {
	k := newClock()
	for _, tc := range []struct {
		lat, lng float64
		utc      int64 // hour of day0
		hour     int   // local
		weekday  int
	}{
		{45.76, 4.84, 23, 23, 0},    // Lyon: +19 min
		{30.27, -97.74, 3, 20, 6},   // Austin: -6.5 h, the evening before (Sunday)
		{35.68, 139.69, 20, 5, 1},   // Tokyo: +9.3 h, the next morning (Tuesday)
		{-36.85, 174.76, 12, 23, 0}, // Auckland: +11.7 h
	} {
		cell := cellAt(t, tc.lat, tc.lng, 10)
		local := k.local(day0+tc.utc*hour, cell)
		if h, d := hourOf(local), weekdayOf(local); h != tc.hour || d != tc.weekday {
			t.Errorf("(%v, %v) at %02d:00 UTC: local hour %d, weekday %d; want %d, %d", tc.lat, tc.lng, tc.utc, h, d, tc.hour, tc.weekday)
		}
		if off := k.local(0, cell); math.Abs(float64(off)-tc.lng/15*float64(hour)) > 0.1*float64(hour) {
			t.Errorf("(%v, %v): offset %v h, want about %v h", tc.lat, tc.lng, float64(off)/float64(hour), tc.lng/15)
		}
	}
	if weekdayOf(day0) != 0 || weekdayOf(day0-1) != 6 || weekdayOf(day0+6*day) != 6 {
		t.Error("weekdayOf: day0 is a Monday")
	}
}

func TestCategories(t *testing.T) {
	c := NewCollector(1, nil)
	st := &cloak.Stats{Released: 10, NoCategory: 1, Categorised: 8, KeptLeaf: 3, KeptGroup: 2}
	st.Suppressed[cloak.SensitiveCategory] = 7
	got := c.categories(0, st, true)
	if want := (Categories{Released: true, Sensitive: 7, NoCategory: 1, WithCategory: 5, Leaf: 3, Categorised: 8, Records: 10}); got != want {
		t.Errorf("categories = %+v, want %+v", got, want)
	}
	if got := c.categories(0, st, false); got.WithCategory != 0 || got.Released {
		t.Errorf("without category in fields: %+v", got)
	}
}

// Tuples on hand-made classes: a class of 12 records in two tuples (10 users showing
// "Park", 2 records of one user showing nothing: below k = 3) and a class of 5 records
// in one tuple.
func TestTuples(t *testing.T) {
	c := NewCollector(1, nil)
	cell := cellAt(t, 45.76, 4.84, 9)
	a := c.addClass(0, cell, day0, 11, 12)
	b := c.addClass(0, cell.Parent(8), day0, 5, 5)
	c.classes[0][a].tuples = []tupleStat{{label: "", users: 1, records: 2}, {label: "Park", users: 10, records: 10}}
	c.classes[0][b].tuples = []tupleStat{{label: "", users: 5, records: 5}}
	got := c.tuples(0, 3, true)
	want := Tuples{Applies: true, Tuples: 3, BelowK: 1, RecordsBelowK: 2, MinUsers: 1, Records: 17,
		PickOut: 3.0 / 17, PickOutClass: 2.0 / 17}
	if got != want {
		t.Errorf("tuples = %+v, want %+v", got, want)
	}
	if got := c.tuples(0, 3, false); got.Applies || got.Tuples != 0 {
		t.Errorf("counts mode: %+v", got)
	}
}

func TestShare(t *testing.T) {
	for _, tc := range []struct {
		n, of int
		want  string
	}{{0, 10, "0.0%"}, {1, 2000, "< 0.1%"}, {3416, 3417, "> 99.9%"}, {10, 10, "100.0%"}, {1, 3, "33.3%"}, {0, 0, "-"}} {
		if got := share(tc.n, tc.of); got != tc.want {
			t.Errorf("share(%d, %d) = %q, want %q", tc.n, tc.of, got, tc.want)
		}
	}
}

// The time profile counts each check-in at the local hour and weekday of its place.
func TestTimeProfile(t *testing.T) {
	lyon := cellAt(t, 45.76, 4.84, 10)     // +19 min
	austin := cellAt(t, 30.27, -97.74, 10) // -6.5 h
	c := NewCollector(1, nil)
	cl := c.addClass(0, lyon.Parent(9), day0, 10, 10)
	c.addEvent(0, lyon, day0+10*hour, cl)                             // Monday 10:19
	c.addEvent(1, lyon, day0+10*hour+30*60_000, -int32(cloak.BelowK)) // Monday 10:49
	c.addEvent(2, austin, day0+3*hour, -int32(cloak.ContributionCap)) // Sunday 20:30
	c.addEvent(3, austin, day0+3*hour, cl)                            // Sunday 20:30
	tp := c.timeProfile(0, newClock())
	if h := tp.Hours[10]; h.In != 2 || h.Released() != 1 || h.ByReason[cloak.BelowK] != 1 {
		t.Errorf("10:00 = %+v, want 2 in, 1 released, 1 below_k", h)
	}
	if h := tp.Hours[20]; h.In != 2 || h.Released() != 1 || h.ByReason[cloak.ContributionCap] != 1 {
		t.Errorf("20:00 = %+v, want 2 in, 1 released, 1 capped", h)
	}
	if tp.Days[0].In != 2 || tp.Days[6].In != 2 {
		t.Errorf("Monday %d, Sunday %d check-ins; want 2 and 2", tp.Days[0].In, tp.Days[6].In)
	}
	total := 0
	for _, h := range tp.Hours {
		total += h.In
	}
	if total != 4 {
		t.Errorf("%d check-ins over the hours, want 4", total)
	}
}

// A group of users who move together is found window after window; a class whose users
// differ by one, or whose window does not follow, is not.
func TestGroups(t *testing.T) {
	c := NewCollector(1, nil)
	cells := []geo.Cell{cellAt(t, 44.35, 3.40, 9), cellAt(t, 44.39, 3.43, 9), cellAt(t, 44.43, 3.46, 9), cellAt(t, 44.47, 3.49, 9)}
	// Users 0..2 together in hours 1, 2 and 3 (in another cell each hour), and in hour
	// 5 (a gap: a run of its own); users 3..5 in hour 1, then 3, 4 and 6 in hour 2.
	for h, cell := range []geo.Cell{cells[0], cells[1], cells[2], cells[3]} {
		start := day0 + int64([]int{1, 2, 3, 5}[h])*hour
		cl := c.addClass(0, cell, start, 3, 3)
		for u := range int32(3) {
			c.addEvent(u, cell, start+60_000, cl)
		}
	}
	other := cellAt(t, 45.76, 4.84, 9)
	a := c.addClass(0, other, day0+hour, 3, 3)
	b := c.addClass(0, other, day0+2*hour, 3, 3)
	for _, u := range []int32{3, 4, 5} {
		c.addEvent(u, other, day0+hour+60_000, a)
	}
	for _, u := range []int32{3, 4, 6} {
		c.addEvent(u, other, day0+2*hour+60_000, b)
	}
	c.addEvent(7, other, day0+2*hour, -int32(cloak.BelowK))
	got := c.groups(0, hour)
	if want := (Groups{Classes: 2, Users: 3, Longest: 3}); got != want {
		t.Errorf("groups %+v, want %+v", got, want)
	}
	if got := c.groups(0, hour/2); got.Classes != 0 {
		t.Errorf("with half-hour windows no class follows another: %+v", got)
	}
}
