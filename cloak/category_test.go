package cloak

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// categoryPartner is an events partner with category, one resolution, no cap: a window
// of check-ins at one place makes exactly one class.
func categoryPartner(t *testing.T, k, l int, opt ...string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Window.AllowedLateness = 0
	p := config.DefaultPartner()
	p.Name, p.Topic, p.K, p.LDiversity = "p", "t.p", k, l
	p.MaxResolution, p.MinResolution, p.MaxCheckinsPerUserPerWindow = 9, 9, 0
	p.Fields = config.DefaultFields(config.ModeEvents)
	p.ReleaseSensitiveGroups = opt
	cfg.Partners = []config.Partner{p}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// visits makes one check-in per (user, category) pair at one place in one hour.
func visits(pairs ...[2]string) []testEvent {
	var evs []testEvent
	for i, p := range pairs {
		e := testEvent{id: fmt.Sprintf("e%d", i), user: p[0], cat: p[1], lat: 45.764, lng: 4.8357, t: testStart + int64(i)*1000}
		e.line = fmt.Sprintf(`{"event_id":%q,"user_id":%q,"lat":45.764,"lng":4.8357,"ts":%q,"venue_category":%q}`,
			e.id, e.user, time.UnixMilli(e.t).UTC().Format(time.RFC3339), e.cat)
		evs = append(evs, e)
	}
	return evs
}

// users makes n pairs of distinct users u<from>..u<from+n-1> at category cat.
func users(from, n int, cat string) [][2]string {
	var out [][2]string
	for i := range n {
		out = append(out, [2]string{fmt.Sprintf("u%d", from+i), cat})
	}
	return out
}

func join(groups ...[][2]string) [][2]string {
	var out [][2]string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// shown counts, per category shown ("" for none), the records of partner p's output.
func shown(t *testing.T, out []byte) map[string]int {
	t.Helper()
	got := make(map[string]int)
	for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var r struct{ Category string }
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		got[r.Category]++
	}
	return got
}

// The category rule on hand-made classes, k = 3: what each record shows.
func TestCategoryRule(t *testing.T) {
	tests := []struct {
		name  string
		l     int
		pairs [][2]string
		want  map[string]int
	}{
		{"leaves shared by k users keep their name", 0,
			join(users(0, 3, "Coffee Shop"), users(3, 3, "Bakery")),
			map[string]int{"Coffee Shop": 3, "Bakery": 3}},
		{"a leaf below k shows its group when k users share the group", 0,
			join(users(0, 3, "Coffee Shop"), users(3, 2, "Bakery"), users(5, 1, "Restaurant")),
			map[string]int{"Coffee Shop": 3, "Food": 3}},
		{"all users in one category but one: the odd one hides in its group or in none", 0,
			join(users(0, 5, "Coffee Shop"), users(5, 1, "Gym")),
			// "Gym" alone (1 user) shows nothing; none must have 3 users: the smallest
			// tuple (Coffee Shop, 5 users) is the only one to move.
			map[string]int{"": 6}},
		{"none reaches k with the smallest tuple moved", 0,
			join(users(0, 4, "Coffee Shop"), users(4, 3, "Bar"), users(7, 1, "Unknown Venue Type"), users(8, 1, "Park")),
			// none: 2 users (unknown, Park alone); smallest tuple: Bar (3 users).
			map[string]int{"Coffee Shop": 4, "": 5}},
		{"one user with many categories gives each at most one user", 0,
			join([][2]string{{"u0", "Coffee Shop"}, {"u0", "Bakery"}, {"u0", "Bar"}, {"u0", "Gym"}, {"u0", "Museum"}},
				users(1, 3, "Park"), users(4, 3, "Unknown Venue Type")),
			// u0's five categories have one user each: they show nothing.
			map[string]int{"Park": 3, "": 8}},
		{"one user with many categories and too few others: nothing is shown", 0,
			join([][2]string{{"u0", "Coffee Shop"}, {"u0", "Bakery"}, {"u0", "Bar"}}, users(1, 3, "Park")),
			// none holds u0 alone: the smallest tuple, Park, joins it.
			map[string]int{"": 6}},
		{"rare categories show their group", 0,
			join(users(0, 1, "Zoo"), users(1, 1, "Aquarium"), users(2, 1, "Casino"), users(3, 1, "Lighthouse"), users(4, 2, "Unknown Venue Type")),
			// Zoo, Aquarium and Casino are arts; Lighthouse (outdoors) has one user.
			map[string]int{"Arts & Entertainment": 3, "": 3}},
		{"a group's own name is the group level", 0,
			join(users(0, 2, "Food"), users(2, 1, "Bakery"), users(3, 3, "Bar")),
			map[string]int{"Food": 3, "Bar": 3}},
		{"unknown names show nothing and never a leaf", 0,
			join(users(0, 3, "My Secret Club"), users(3, 3, "Bar")),
			map[string]int{"": 3, "Bar": 3}},
		{"l-diversity on categories as shown: one shown is fewer than 2", 2,
			join(users(0, 3, "Coffee Shop"), users(3, 3, "Unknown Venue Type")),
			map[string]int{"": 6}},
		{"l-diversity counts groups: a leaf and its own group are one", 2,
			join(users(0, 3, "Coffee Shop"), users(3, 2, "Bakery"), users(5, 1, "Restaurant"), users(6, 3, "Unknown Venue Type")),
			map[string]int{"": 9}},
		{"l-diversity met by two groups", 2,
			join(users(0, 3, "Coffee Shop"), users(3, 3, "Bar"), users(6, 3, "Unknown Venue Type")),
			map[string]int{"Coffee Shop": 3, "Bar": 3, "": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := categoryPartner(t, 3, tt.l)
			got := evaluateLines(t, cfg, visits(tt.pairs...), 1)
			s := shown(t, got.partners["p"])
			if fmt.Sprint(s) != fmt.Sprint(tt.want) {
				t.Errorf("shown %v, want %v", s, tt.want)
			}
		})
	}
}

// Every sensitive group of the shipped taxonomy is suppressed by default: every listed
// name, every keyword inside an unlisted name, in any case; and released (with its group
// or leaf name) once the policy opts the group in, but for names that also hold a
// keyword of another sensitive group, which need that one opted in too.
func TestSensitiveGroupsSuppressedByDefault(t *testing.T) {
	tax := config.ShippedTaxonomy()
	n := 0
	for _, g := range tax.Groups {
		if !g.Sensitive {
			continue
		}
		n++
		names := append([]string(nil), g.Categories...)
		for _, kw := range g.Keywords {
			names = append(names, "Old "+strings.ToUpper(kw)+" Place")
		}
		t.Run(g.ID, func(t *testing.T) {
			var pairs [][2]string
			for _, name := range names {
				pairs = append(pairs, users(len(pairs), 3, name)...)
			}
			def := evaluateLines(t, categoryPartner(t, 3, 0), visits(pairs...), 1)
			if len(bytes.TrimSpace(def.partners["p"])) != 0 {
				t.Fatalf("released by default:\n%s", def.partners["p"])
			}
			if got := def.sum.Partners[0].Suppressed[SensitiveCategory]; got != len(pairs) {
				t.Fatalf("%d of %d check-ins suppressed as sensitive_category", got, len(pairs))
			}
			in := evaluateLines(t, categoryPartner(t, 3, 0, g.ID), visits(pairs...), 1)
			want := 0
			for _, p := range pairs {
				c := tax.Lookup(p[1])
				if tax.Groups[c.Group].ID == g.ID && len(c.Also) == 0 {
					want++
				}
			}
			// Most names are of the group alone (sexual shares hiv, std, abortion and
			// the like with health: a tenth of its names need both).
			if got := in.sum.Partners[0].Released; got != want || want < len(pairs)*4/5 {
				t.Fatalf("opted in: %d of %d released, want %d (at least 4/5)", got, len(pairs), want)
			}
			for cat := range shown(t, in.partners["p"]) {
				if cat != g.Name && !containsName(g.Categories, cat) {
					t.Errorf("opted in: shows %q, not a name of group %s", cat, g.ID)
				}
			}
		})
	}
	if n < 8 {
		t.Fatalf("%d sensitive groups; want at least the 8 of the privacy model", n)
	}
}

// A listed name that holds keywords of other sensitive groups needs all of them opted
// in, whether its own group is sensitive ("Religious School": religion and children) or
// not ("Driving School": college, and children); an excepted name does not ("Food
// Court" holds the justice keyword "court").
func TestListedNameInSeveralGroups(t *testing.T) {
	for _, tt := range []struct {
		cat      string
		opt      []string
		released bool
	}{
		{"Religious School", nil, false},
		{"Religious School", []string{"religion"}, false},
		{"Religious School", []string{"children"}, false},
		{"Religious School", []string{"religion", "children"}, true},
		{"Sexual Health Clinic", []string{"sexual"}, false},
		{"Sexual Health Clinic", []string{"health"}, false},
		{"Sexual Health Clinic", []string{"sexual", "health"}, true},
		{"Children's Hospital", []string{"health"}, false},
		{"Children's Hospital", []string{"health", "children"}, true},
		{"Driving School", nil, false},
		{"Driving School", []string{"children"}, true},
		{"Food Court", nil, true},
		{"Medical School", []string{"health"}, true},
		{"Coffee Shop", nil, true},
	} {
		got := evaluateLines(t, categoryPartner(t, 3, 0, tt.opt...), visits(users(0, 3, tt.cat)...), 1)
		if r := got.sum.Partners[0].Released; (r == 3) != tt.released || (r != 0 && r != 3) {
			t.Errorf("%q opted in %v: %d of 3 released, want released=%v", tt.cat, tt.opt, r, tt.released)
		}
	}
}

func containsName(names []string, s string) bool {
	for _, n := range names {
		if n == s {
			return true
		}
	}
	return false
}

// suppress_categories works on top of the taxonomy, by name or by group, ignoring case
// and punctuation.
func TestSuppressCategories(t *testing.T) {
	pairs := join(users(0, 3, "Coffee Shop"), users(3, 3, "Bar"), users(6, 3, "Pub"), users(9, 3, "Park"))
	for _, tt := range []struct {
		suppress []string
		want     int // suppressed
	}{
		{[]string{"coffee shop"}, 3},
		{[]string{"nightlife"}, 6},
		{[]string{"Nightlife Spot"}, 6},
		{[]string{"PUB", "Park"}, 6},
		// An entry in a spelling the taxonomy reads as a listed name or group names it.
		{[]string{"Coffee Shops"}, 3},
		{[]string{"CoffeeShop"}, 3},
		{[]string{"Nightlife Spots"}, 6},
		// A name of a group only by a keyword names no group: "Old Bar" is not nightlife.
		{[]string{"Old Bar Place"}, 0},
	} {
		cfg := categoryPartner(t, 3, 0)
		cfg.Partners[0].SuppressCategories = tt.suppress
		got := evaluateLines(t, cfg, visits(pairs...), 1)
		if s := got.sum.Partners[0].Suppressed[SensitiveCategory]; s != tt.want {
			t.Errorf("suppress %q: %d suppressed, want %d", tt.suppress, s, tt.want)
		}
	}
	// A spelling the taxonomy reads as a suppressed listed name is suppressed too: the
	// record would show the listed name.
	spellings := join(users(0, 3, "Coffee Shops"), users(3, 3, "CoffeeShop"), users(6, 3, "Psychiatric Hospitals"),
		users(9, 3, "PsychiatricHospital"), users(12, 3, "Psychiatric-Hospital"), users(15, 3, "Bar"))
	cfg := categoryPartner(t, 3, 0, "health")
	cfg.Partners[0].SuppressCategories = []string{"Psychiatric Hospital", "Coffee Shop"}
	got := evaluateLines(t, cfg, visits(spellings...), 1)
	if s := got.sum.Partners[0].Suppressed[SensitiveCategory]; s != 15 {
		t.Errorf("spellings of suppressed names: %d suppressed, want 15 (all but Bar)\n%s", s, got.partners["p"])
	}
	// A group a name is of besides its own is suppressed by name too: "Religious
	// School" is children as well as religion.
	school := join(users(0, 3, "Religious School"), users(3, 3, "Church"))
	for _, tt := range []struct {
		suppress []string
		want     int
	}{{nil, 0}, {[]string{"children"}, 3}, {[]string{"Children and schools"}, 3}, {[]string{"religion"}, 6}} {
		cfg := categoryPartner(t, 3, 0, "religion", "children")
		cfg.Partners[0].SuppressCategories = tt.suppress
		got := evaluateLines(t, cfg, visits(school...), 1)
		if s := got.sum.Partners[0].Suppressed[SensitiveCategory]; s != tt.want {
			t.Errorf("opted in religion and children, suppress %q: %d suppressed, want %d", tt.suppress, s, tt.want)
		}
	}
}

// Random classes: every tuple shown has k users, for many k and l.
func TestCategoryTuplesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		k := 2 + r.IntN(6)
		l := []int{0, 0, 2, 3}[r.IntN(4)]
		var pairs [][2]string
		nUsers := k + r.IntN(30)
		for u := range nUsers {
			for range 1 + r.IntN(3) {
				pairs = append(pairs, [2]string{fmt.Sprintf("u%d", u), testCategories[r.IntN(len(testCategories))]})
			}
		}
		cfg := categoryPartner(t, k, l, "health")
		evs := visits(pairs...)
		got := evaluateLines(t, cfg, evs, 1)
		audit := parseAudit(t, cfg, got.audit)["p"]
		byCat := make(map[string]map[string]bool)
		for _, e := range evs {
			a := audit[e.id]
			if !a.Released {
				continue
			}
			c := categoryOf(a)
			if byCat[c] == nil {
				byCat[c] = make(map[string]bool)
			}
			byCat[c][e.user] = true
		}
		for c, us := range byCat {
			if len(us) < k {
				t.Fatalf("round %d, k=%d: category %q shown for %d users", round, k, c, len(us))
			}
		}
		groups := make(map[int]bool)
		for c := range byCat {
			if c != "" {
				groups[categoryGroup(c)] = true
			}
		}
		if l > 0 && len(groups) > 0 && len(groups) < l {
			t.Fatalf("round %d: categories of %d groups shown, l=%d", round, len(groups), l)
		}
	}
}

// categoryGroup is the taxonomy group of a label as shown (a leaf or a group name).
func categoryGroup(label string) int {
	tax := config.ShippedTaxonomy()
	for i, g := range tax.Groups {
		if g.Name == label {
			return i
		}
	}
	return tax.Lookup(label).Group
}

// A record's key tells nothing its value does not: for a policy that releases no cell,
// the key holds neither the cell nor the class nor the window nor the part of the stream
// that released it, only an HMAC under the record-key secret, and the records leave
// sorted by it (their order tells no class either); the same secret gives the same keys.
func TestKeyWithoutCell(t *testing.T) {
	opaque := regexp.MustCompile(`^p/x[0-9a-f]{16}$`)
	for _, tc := range []struct {
		mode   config.Mode
		fields []string
	}{
		{config.ModeCounts, []string{"window_start", "users"}}, {config.ModeCounts, []string{"res", "window_end", "users", "checkins"}},
		{config.ModeCounts, []string{"cell", "users"}}, {config.ModeEvents, []string{"res", "window_start"}}, {config.ModeEvents, []string{"cell"}},
	} {
		cfg := config.Default()
		p := config.DefaultPartner()
		p.Name, p.Topic, p.Mode, p.K, p.Fields = "p", "t.p", tc.mode, 2, tc.fields
		p.MaxResolution, p.MinResolution = 9, 9
		cfg.Partners = []config.Partner{p}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		release := func(secret []byte) ([]string, *Release) {
			r := NewReleaser(NewPolicies(&cfg), secret)
			ws := NewWindows(3600_000, false)
			for u, at := range []geo.Point{{Lat: 45.764, Lng: 4.8357}, {Lat: 45.764, Lng: 4.8357}, {Lat: 48.85, Lng: 2.35}, {Lat: 48.85, Lng: 2.35}} {
				c, _ := geo.CellOf(at, cfg.CellResolution)
				ws.Add(&Event{Cell: c, User: Pseudonym(u + 1), Time: testStart + int64(u)}, 0, int64(u), "")
			}
			var keys []string
			var rel *Release
			for _, w := range ws.Close(math.MaxInt64) {
				rel = r.Release(w)
				for recs := rel.Partners[0].Records(10); recs != nil; recs = rel.Partners[0].Records(10) {
					for _, rec := range recs {
						keys = append(keys, string(rec.Key))
					}
				}
			}
			return keys, rel
		}
		keys, rel := release(RecordKeySecret(Key(DevKey)))
		want := 2
		if tc.mode == config.ModeEvents {
			want = 4
		}
		if len(keys) != want || len(slices.Compact(slices.Sorted(slices.Values(keys)))) != want {
			t.Errorf("%s %v: keys %v, want %d distinct", tc.mode, tc.fields, keys, want)
		}
		withCell := slices.Contains(tc.fields, "cell")
		for _, k := range keys {
			hasCell := slices.ContainsFunc(rel.Partners[0].Classes, func(cl Class) bool { return strings.Contains(k, cl.Cell.String()) })
			if hasCell != withCell || opaque.MatchString(k) == withCell {
				t.Errorf("%s %v: key %s (names a cell: %v)", tc.mode, tc.fields, k, hasCell)
			}
		}
		if !withCell && !slices.IsSorted(keys) {
			t.Errorf("%s %v: records of a policy without cell leave in class order, not by key: %v", tc.mode, tc.fields, keys)
		}
		again, _ := release(RecordKeySecret(Key(DevKey)))
		other, _ := release(RecordKeySecret(Key("another deployment's pseudonym key, 32+ bytes")))
		if !slices.Equal(keys, again) {
			t.Errorf("%s %v: keys differ from run to run: %v, %v", tc.mode, tc.fields, keys, again)
		}
		if !withCell && slices.ContainsFunc(keys, func(k string) bool { return slices.Contains(other, k) }) {
			t.Errorf("%s %v: another secret gives the same keys %v", tc.mode, tc.fields, keys)
		}
	}
}
