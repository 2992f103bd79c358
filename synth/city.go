package synth

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
)

// SensitiveCategories are the venue categories that privacy policies suppress.
// Every synthetic city has at least one venue of each.
var SensitiveCategories = []string{
	"Medical Clinic",
	"Hospital",
	"Place of Worship",
	"Sexual Health Clinic",
	"Addiction Treatment Center",
}

// Positions inside the model are integer centimetres east (x) and north (y)
// of the core city's centre: a last-bit difference in a floating-point
// result (math functions and fused multiply-add differ between CPUs) moves a
// position only if it straddles a rounding boundary, which practically never
// happens.
// Degrees are computed only when a line is written, on an equirectangular
// projection at the centre's latitude: across a region (about 1.1 degree of
// latitude each way) east-west distances are off by at most 2%.
const (
	cityRadius = 750_000 // cm: the city is about 15 km across
	nearRadius = 90_000  // cm: "near" an anchor; below the 1 km that tests check
	nearMax    = 12      // venues remembered near each anchor
	nearMin    = 3       // suburban anchors take the nearest venues even if farther
	gridCell   = 50_000  // cm: spatial index cell
	// cmPerDegLat is the length of one degree of latitude on a sphere of
	// radius 6371 km, the radius H3 and haversine distances use.
	cmPerDegLat = 2 * math.Pi * 637_100_000 / 360
)

type category struct {
	name     string
	share    float64  // relative number of venues
	pop      float64  // popularity multiplier
	open     uint32   // bit h set: open at local hour h
	captions []string // "@@" is replaced by a friend's username
}

// span returns the hours [from, to) as a bit set, wrapping past midnight;
// from == to%24 means all day.
func span(from, to int) uint32 {
	n := (to-from+23)%24 + 1
	var m uint32
	for h := range n {
		m |= 1 << ((from + h) % 24)
	}
	return m
}

var (
	always   = span(0, 24)
	daytime  = span(8, 20)
	shops    = span(9, 20)
	meals    = span(11, 15) | span(18, 24)
	nightOut = span(17, 3)
)

// categories of venues. Shares (per cent of venues) and popularity are
// invented to look plausible; the sensitive ones add up to 3%.
var categories = []category{
	{"Coffee Shop", 9, 1.3, span(6, 20), []string{"Great coffee with @@", "flat white time", "coffee break"}},
	{"Restaurant", 16, 1, meals, []string{"dinner with @@", "best pasta in town", "lunch break"}},
	{"Bar", 9, 1.2, nightOut, []string{"drinks with @@", "happy hour!", "one more?"}},
	{"Fast Food", 5, 0.8, span(10, 24), []string{"guilty pleasure", "quick bite"}},
	{"Bakery", 5, 0.9, span(6, 19), []string{"fresh croissants", "pain au chocolat for @@"}},
	{"Supermarket", 5, 0.9, span(8, 21), []string{"groceries", "weekly shopping"}},
	{"Convenience Store", 3, 0.5, span(7, 23), nil},
	{"Gym", 4, 1.1, span(6, 23), []string{"at the gym again", "leg day", "workout with @@"}},
	{"Park", 4, 1.2, span(7, 22), []string{"sunny walk", "running in the park", "picnic with @@"}},
	{"Office", 8, 0.8, span(7, 20), []string{"another day at the office", "meeting marathon"}},
	{"Coworking Space", 1.5, 0.8, span(8, 21), []string{"deep work"}},
	{"Clothing Store", 5, 0.6, shops, []string{"new shoes!", "shopping with @@"}},
	{"Bookstore", 1.5, 0.6, shops, []string{"too many books"}},
	{"Pharmacy", 3, 0.4, shops, nil},
	{"Bank", 2, 0.3, span(9, 17), nil},
	{"Hair Salon", 3, 0.4, shops, []string{"new haircut"}},
	{"Museum", 1, 2, span(10, 18), []string{"great exhibition", "museum day with @@"}},
	{"Cinema", 1, 1.8, span(13, 24), []string{"movie night with @@", "no spoilers please"}},
	{"Theater", 1, 1.2, span(18, 24), []string{"what a show"}},
	{"Train Station", 0.5, 4, span(5, 24), []string{"off to Paris", "train delayed again", "picking up @@"}},
	{"Metro Station", 3, 1.5, span(5, 1), nil},
	{"University", 1, 2, span(8, 20), []string{"lecture time", "exam week", "library with @@"}},
	{"School", 2, 0.5, span(8, 17), nil},
	{"Hotel", 3, 0.7, always, []string{"checked in", "room with a view"}},
	{"Nightclub", 1, 1.2, span(23, 5), []string{"dancing with @@", "what a night"}},
	{"Library", 1, 0.7, span(9, 19), []string{"quiet study"}},
	{"Shopping Mall", 0.5, 3, span(10, 20), []string{"mall trip with @@"}},
	{"Post Office", 1, 0.3, span(9, 18), nil},
	{"Stadium", 0.2, 4, span(14, 23), []string{"come on!!", "match day with @@"}},
	{"Medical Clinic", 1.2, 0.5, daytime, []string{"appointment today"}},
	{"Hospital", 0.3, 1.5, always, []string{"visiting @@", "long wait"}},
	{"Place of Worship", 1, 0.8, span(7, 21), nil},
	{"Sexual Health Clinic", 0.2, 0.4, daytime, nil},
	{"Addiction Treatment Center", 0.3, 0.4, daytime, nil},
}

// genericCaptions fit any venue; "" makes empty captions more common.
var genericCaptions = []string{"", "", "checking in", "here with @@", "finally!", "love this place",
	"back again", "with @@ and friends", "quick stop", "meeting @@ here"}

var firstNames = []string{"maria", "lucas", "emma", "hugo", "lea", "louis", "chloe", "gabriel",
	"manon", "arthur", "camille", "jules", "sarah", "adam", "ines", "nathan", "julie", "tom",
	"alice", "leo", "anna", "noah", "zoe", "ethan", "lina", "paul", "eva", "sami", "nora", "yanis"}

type venue struct {
	x, y int32 // cm from the centre
	cat  uint8
	json string // `","venue_id":"…","venue_category":"…","caption":"`
}

type user struct {
	hx, hy, wx, wy int32   // home and work anchors, cm from the centre
	home, work     int8    // towns of the anchors; a commuter's differ
	rate           float64 // mean check-ins per day
	near           []int32 // venues near home, then venues near work
	nHome          int     // len of the home part of near
	favs           []int32
	friends        [3]int32
	head           string // `","user_id":"…","lat":`
	tail           string // `","username":"…","device_id":"…"}`
	name           string // username, inside tail
}

// city is the model: the core city and its satellite towns, their venues
// and users.
type city struct {
	lat0, lng0         float64
	latPerCm, lngPerCm float64 // degrees per cm
	towns              []town
	venues             []venue
	pop                []float64 // popularity weight per venue
	cum                []float64 // running sum of pop, for sampling
	users              []user
}

// rng wraps PCG with the few draws the model needs; the conversions are
// written here rather than taken from rand.Rand so that they cannot change
// with the Go version.
type rng struct{ src *rand.PCG }

// pcgStream is the second PCG seed word; any fixed constant works. Adding a
// small number gives the city, the events and the rendering independent
// streams, so that changing e.g. InvalidFraction does not move the city.
const pcgStream = 0x9e3779b97f4a7c15

func newRNG(seed int64, stream uint64) rng {
	return rng{rand.NewPCG(uint64(seed), pcgStream+stream)}
}

// float returns a uniform float64 in [0, 1) with 53 random bits.
func (r rng) float() float64 { return float64(r.src.Uint64()>>11) * 0x1p-53 }

// intn returns a uniform int in [0, n) (Lemire's method), n > 0.
func (r rng) intn(n int) int {
	hi, lo := bits.Mul64(r.src.Uint64(), uint64(n))
	if lo < uint64(n) {
		thresh := -uint64(n) % uint64(n)
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), uint64(n))
		}
	}
	return int(hi)
}

// norm returns a standard normal deviate (Marsaglia's polar method).
func (r rng) norm() float64 {
	for {
		u, v := 2*r.float()-1, 2*r.float()-1
		if s := u*u + v*v; s > 0 && s < 1 {
			return u * math.Sqrt(-2*math.Log(s)/s)
		}
	}
}

// poisson draws a Poisson count by Knuth's method, in chunks of mean at
// most 30 so that exp(-mean) never underflows.
func (r rng) poisson(mean float64) int {
	n := 0
	for mean > 0 {
		m := min(mean, 30)
		mean -= m
		l, p := math.Exp(-m), r.float()
		for p > l {
			n++
			p *= r.float()
		}
	}
	return n
}

// mixture describes where anchors of one kind lie in a town: a share around
// the centre, a share around the neighbourhood hubs, the rest uniform over
// the town. The spreads are for the core city; a smaller town scales them.
type mixture struct {
	centre, hubs    float64
	centreSD, hubSD float64 // cm
}

var (
	venueMix = mixture{0.45, 0.35, 130_000, 50_000}
	homeMix  = mixture{0.25, 0.35, 180_000, 80_000}
	workMix  = mixture{0.50, 0.35, 120_000, 50_000}
)

type hub struct {
	x, y float64
	cum  float64 // running sum of hub weights
}

// place draws a position in town t from m.
func (r rng) place(m mixture, t *town) (int32, int32) {
	for {
		var x, y float64
		switch p := r.float(); {
		case p < m.centre:
			sd := m.centreSD * t.scale
			x, y = sd*r.norm(), sd*r.norm()
		case p < m.centre+m.hubs:
			w := r.float() * t.hubs[len(t.hubs)-1].cum
			h := t.hubs[0]
			for _, h = range t.hubs {
				if w < h.cum {
					break
				}
			}
			sd := m.hubSD * t.scale
			x, y = h.x+sd*r.norm(), h.y+sd*r.norm()
		default:
			x, y = (2*r.float()-1)*t.radius, (2*r.float()-1)*t.radius
		}
		if x*x+y*y <= t.radius*t.radius {
			return t.x + int32(math.Round(x)), t.y + int32(math.Round(y))
		}
	}
}

func newCity(cfg Config) *city {
	r := newRNG(cfg.Seed, 0)
	c := &city{lat0: cfg.CenterLat, lng0: cfg.CenterLng, latPerCm: 1 / cmPerDegLat}
	// Rounded to 1e-18 degree per cm (11-12 significant digits) so that a
	// last-bit difference in math.Cos between platforms is erased.
	lng := c.latPerCm / math.Cos(cfg.CenterLat*math.Pi/180)
	c.lngPerCm = math.Round(lng*1e18) / 1e18

	// The core has six neighbourhood hubs 2.5-6 km out, of uneven size.
	c.towns = newTowns(cfg, newHubs(r, 6, 1))
	region := len(c.towns) > 1

	catSum := 0.0
	for _, k := range categories {
		catSum += k.share
	}
	station := uint8(categoryIndex("Train Station"))
	c.venues = make([]venue, cfg.Venues)
	for ti := range c.towns {
		t := &c.towns[ti]
		// In a region every town has a station near its centre, for the
		// commuters: its first venue, after the sensitive ones in the core.
		first := t.v0
		if ti == 0 {
			first += int32(len(SensitiveCategories))
		}
		for i := t.v0; i < t.v1; i++ {
			v := &c.venues[i]
			if region && i == first {
				v.cat = station
				for {
					x, y := int32(math.Round(stationSD*r.norm())), int32(math.Round(stationSD*r.norm()))
					if float64(x)*float64(x)+float64(y)*float64(y) <= t.radius*t.radius {
						v.x, v.y = t.x+x, t.y+y
						break
					}
				}
			} else {
				v.x, v.y = r.place(venueMix, t)
				if i < int32(len(SensitiveCategories)) {
					v.cat = uint8(categoryIndex(SensitiveCategories[i]))
				} else {
					w := r.float() * catSum
					for k := range categories {
						if w -= categories[k].share; w < 0 || k == len(categories)-1 {
							v.cat = uint8(k)
							break
						}
					}
				}
			}
			if v.cat == station {
				t.stations = append(t.stations, i)
			}
			v.json = `","venue_id":"venue-` + pad(int64(i+1), 5) + `","venue_category":"` +
				categories[v.cat].name + `","caption":"`
		}
	}

	// Popularity is Zipf-like, 1/rank, with ranks shuffled over the venues
	// and scaled by category (stations and museums draw crowds, banks not).
	// The shuffle is an inside-out Fisher-Yates.
	rank := make([]int, len(c.venues))
	for i := range rank {
		j := r.intn(i + 1)
		rank[i], rank[j] = rank[j], i
	}
	c.pop = make([]float64, len(c.venues))
	c.cum = make([]float64, len(c.venues))
	sum := 0.0
	for i, v := range c.venues {
		c.pop[i] = categories[v.cat].pop / float64(rank[i]+1)
		sum += c.pop[i]
		c.cum[i] = sum
	}

	g := newGrid(c.venues, reach(c.towns))
	c.users = make([]user, cfg.Users)
	// Activity is Pareto with shape 1 capped at 50 times the minimum, then
	// rescaled to the configured mean: 80% of users are below the mean and
	// the busiest check in 50 times as often as the quietest.
	sum = 0
	for i := range c.users {
		u := &c.users[i]
		if region {
			u.home = int8(c.homeTown(r))
			u.work = u.home
			if r.float() < commuterShare {
				u.work = int8(c.workTown(r, int(u.home)))
			}
		}
		u.hx, u.hy = r.place(homeMix, &c.towns[u.home])
		u.wx, u.wy = r.place(workMix, &c.towns[u.work])
		u.rate = min(1/(1-r.float()), 50)
		sum += u.rate
		u.near = g.near(u.hx, u.hy, c.venues, nil)
		u.nHome = len(u.near)
		u.near = g.near(u.wx, u.wy, c.venues, u.near)
		// Favourites: two venues near home, one near work, one anywhere
		// in the home town.
		u.favs = []int32{c.pickFrom(r, u.near[:u.nHome]), c.pickFrom(r, u.near[:u.nHome]),
			c.pickFrom(r, u.near[u.nHome:]), c.popularIn(r, int(u.home))}
		for k := range u.friends {
			u.friends[k] = int32(r.intn(len(c.users)))
		}
		name := firstNames[r.intn(len(firstNames))] + "_" + strconv.Itoa(i)
		dev := "dev-android-"
		if r.intn(2) == 0 {
			dev = "dev-ios-"
		}
		dev += strconv.FormatUint(r.src.Uint64()>>16, 16)
		// One allocation per user keeps the bytes of a line close together.
		head := `","user_id":"user-` + pad(int64(i), 6) + `","lat":`
		tail := `","username":"` + name + `","device_id":"` + dev + `"}`
		all := head + tail
		u.head, u.tail = all[:len(head)], all[len(head):]
		u.name = u.tail[len(`","username":"`):][:len(name)]
	}
	for i := range c.users {
		c.users[i].rate *= cfg.CheckinsPerUserPerDay * float64(len(c.users)) / sum
	}
	return c
}

func categoryIndex(name string) int {
	return slices.IndexFunc(categories, func(k category) bool { return k.name == name })
}

// pad formats n in decimal with leading zeros to at least width digits.
func pad(n int64, width int) string { return string(appendPad(nil, n, width)) }

func appendPad(b []byte, n int64, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], n, 10)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// popular draws a venue of the region in proportion to its popularity.
func (c *city) popular(r rng) int32 {
	w := r.float() * c.cum[len(c.cum)-1]
	i, _ := slices.BinarySearch(c.cum, w)
	return int32(min(i, len(c.cum)-1))
}

// popularIn draws a venue of town t in proportion to its popularity; for
// the only town of a city it draws exactly as popular does.
func (c *city) popularIn(r rng, t int) int32 {
	v0, v1 := c.towns[t].v0, c.towns[t].v1
	base := 0.0
	if v0 > 0 {
		base = c.cum[v0-1]
	}
	w := base + r.float()*(c.cum[v1-1]-base)
	i, _ := slices.BinarySearch(c.cum[v0:v1], w)
	return v0 + int32(min(i, int(v1-v0)-1))
}

// pickFrom draws one of vs in proportion to popularity.
func (c *city) pickFrom(r rng, vs []int32) int32 {
	sum := 0.0
	for _, v := range vs {
		sum += c.pop[v]
	}
	w := r.float() * sum
	for _, v := range vs {
		if w -= c.pop[v]; w < 0 {
			return v
		}
	}
	return vs[len(vs)-1]
}

// Modes of a check-in, as cumulative probabilities of home area, work area
// and favourite (the rest goes to a popular venue anywhere), by time band:
// weekday 8-18h, weekday evening and night, weekend 9-19h, weekend evening.
var modes = [4][3]float64{
	{0.10, 0.55, 0.80},
	{0.50, 0.55, 0.80},
	{0.35, 0.35, 0.60},
	{0.45, 0.45, 0.65},
}

// pickVenue chooses the venue of a check-in by user u at local hour h.
// A venue closed at that hour is redrawn up to three times.
func (c *city) pickVenue(r rng, u *user, h int, weekend bool) int32 {
	band := 0
	switch {
	case !weekend && (h < 8 || h >= 18):
		band = 1
	case weekend && h >= 9 && h < 19:
		band = 2
	case weekend:
		band = 3
	}
	m := modes[band]
	for try := 0; ; try++ {
		var v int32
		switch p := r.float(); {
		case p < m[0]:
			v = c.pickFrom(r, u.near[:u.nHome])
		case p < m[1]:
			v = c.pickFrom(r, u.near[u.nHome:])
		case p < m[2]:
			v = u.favs[r.intn(len(u.favs))]
		case len(c.towns) > 1 && r.float() < tripShare:
			// A day trip. Only a region draws here, so that a single
			// city draws as it did before there were regions.
			v = c.popular(r)
		default:
			// In the town of the anchor of the hour: work on weekdays
			// 8-18h, else home.
			t := u.home
			if band == 0 {
				t = u.work
			}
			v = c.popularIn(r, int(t))
		}
		if try == 3 || categories[c.venues[v].cat].open&(1<<h) != 0 {
			return v
		}
	}
}

// latLng converts a position in cm from the centre to degrees. The explicit
// float64 conversions forbid fused multiply-add, which would round
// differently on some CPUs.
func (c *city) latLng(x, y int32) (lat, lng float64) {
	return c.lat0 + float64(float64(y)*c.latPerCm), c.lng0 + float64(float64(x)*c.lngPerCm)
}

// grid is a spatial index of venues in square cells over the square of
// half-width half around the core's centre, in compressed rows: the venues
// of cell k are items[start[k]:start[k+1]].
type grid struct {
	n     int   // cells per side
	half  int32 // cm
	start []int32
	items []int32
}

func (g *grid) cell(x, y int32) (int, int) {
	clamp := func(v int32) int { return min(max(int(v+g.half)/gridCell, 0), g.n-1) }
	return clamp(x), clamp(y)
}

// cellDist2 returns the squared distance from (x, y) to cell (gx, gy).
func (g *grid) cellDist2(gx, gy int, x, y int32) int64 {
	gap := func(v int32, c int) int64 {
		lo := int64(c*gridCell) - int64(g.half)
		return max(lo-int64(v), int64(v)-lo-gridCell, 0)
	}
	dx, dy := gap(x, gx), gap(y, gy)
	return dx*dx + dy*dy
}

// newGrid indexes vs, which lie within half cm of the core's centre on
// each axis. Most cells of a region are empty: about 500 by 500 of them
// cost 1 MB.
func newGrid(vs []venue, half int32) *grid {
	g := &grid{n: 2*int(half)/gridCell + 1, half: half}
	g.start = make([]int32, g.n*g.n+1)
	for _, v := range vs {
		cx, cy := g.cell(v.x, v.y)
		g.start[cy*g.n+cx+1]++
	}
	for k := 1; k < len(g.start); k++ {
		g.start[k] += g.start[k-1]
	}
	fill := slices.Clone(g.start)
	g.items = make([]int32, len(vs))
	for i, v := range vs {
		cx, cy := g.cell(v.x, v.y)
		g.items[fill[cy*g.n+cx]] = int32(i)
		fill[cy*g.n+cx]++
	}
	return g
}

// near appends to dst the up to nearMax venues closest to (x, y) within
// nearRadius, or the nearMin closest found by widening the search if there
// are fewer than that.
func (g *grid) near(x, y int32, vs []venue, dst []int32) []int32 {
	type cand struct {
		d2 int64
		i  int32
	}
	// best holds the nearest candidates so far, sorted by distance then
	// index; ties go to the lower index whatever the scan order.
	var buf [nearMax]cand
	best := buf[:0]
	cx, cy := g.cell(x, y)
	want := min(nearMin, len(vs))
	// After ring r every venue within r cells' width of (x, y) is seen.
	for r := 0; r <= g.n; r++ {
		for gy := max(cy-r, 0); gy <= min(cy+r, g.n-1); gy++ {
			for gx := max(cx-r, 0); gx <= min(cx+r, g.n-1); gx++ {
				if max(abs(gx-cx), abs(gy-cy)) != r {
					continue // inner cells were scanned in earlier rings
				}
				if len(best) == nearMax && g.cellDist2(gx, gy, x, y) > best[nearMax-1].d2 {
					continue // no venue there can make the list
				}
				for _, i := range g.items[g.start[gy*g.n+gx]:g.start[gy*g.n+gx+1]] {
					dx, dy := int64(vs[i].x-x), int64(vs[i].y-y)
					c := cand{dx*dx + dy*dy, i}
					k := len(best)
					for k > 0 && (c.d2 < best[k-1].d2 || c.d2 == best[k-1].d2 && c.i < best[k-1].i) {
						k--
					}
					if k == nearMax {
						continue
					}
					if len(best) < nearMax {
						best = append(best, cand{})
					}
					copy(best[k+1:], best[k:])
					best[k] = c
				}
			}
		}
		seen := int64(r * gridCell)
		if seen >= nearRadius && len(best) >= want && best[want-1].d2 <= seen*seen {
			break
		}
	}
	for k, c := range best {
		if k >= want && c.d2 > nearRadius*nearRadius {
			break
		}
		dst = append(dst, c.i)
	}
	return dst
}

func abs(v int) int { return max(v, -v) }
