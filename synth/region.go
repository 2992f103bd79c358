package synth

import (
	"math"
	"slices"
)

// The region is a core city (town 0, centred on Config's centre) and
// satellite towns around it, so that the data spans many partition cells
// (H3 resolution 4, about 45 km across) and some people cross them: the
// engine's choices must depend only on one partition cell's events, which a
// city that fits in one or two such cells cannot show.
const (
	// coreShare of users and venues live in the core city; the satellites
	// share the rest in proportion to 1/rank, so that the largest satellite
	// has ten times the people of the smallest of ten.
	coreShare = 0.4
	// Satellite centres lie 30 to 120 km from the core's centre, at least
	// minTownGap cm apart edge to edge, so that no two towns touch and most
	// fall in different resolution-4 cells.
	minTownDist = 3_000_000 // cm
	maxTownDist = 12_000_000
	minTownGap  = 1_000_000
	// A satellite's radius is the core's scaled by the square root of its
	// share relative to the core's (the same density of people), but at
	// least minTownRadius so that its hubs and anchors have room.
	minTownRadius = 150_000 // cm
	// maxTowns bounds Towns: with more, the satellites' sectors (one each
	// around the core) get too narrow to keep them apart.
	maxTowns = 24
	// minTownVenues per town: its station and enough venues near every
	// anchor (nearMin) and for its popularity ranks to spread. A region
	// needs venuesPerTown times Towns venues, which leaves the core at
	// least minTownVenues whatever the satellites' rounding.
	minTownVenues = 10
	venuesPerTown = 30
	// regionReach is the farthest a position can be from the core's centre
	// (cm), for the checks of Config.CenterLat and CenterLng.
	//lint:ignore U1000 documents the reach the CenterLat and CenterLng checks assume (synth.go)
	regionReach = maxTownDist + cityRadius
)

// Who crosses between towns. The numbers are invented to give a share of
// commuters like that of a French metropolitan area and a few day trips.
const (
	// commuterShare of users work in a town other than their home town.
	commuterShare = 0.25
	// coreJobs is how many times more jobs per resident the core has than
	// a satellite: a commuter's work town is drawn in proportion to share,
	// the core's share counted coreJobs times.
	coreJobs = 2
	// tripShare of the check-ins that go to a popular venue (rather than
	// one near an anchor or a favourite) go to one anywhere in the region;
	// the others stay in the town of the user's current anchor.
	tripShare = 0.06
	// On a weekday a commuter checks in at a station of the home town with
	// probability morningTrain, leaving between 6:30 and 8:30 local time,
	// and again at a station of the work town on arrival; with probability
	// eveningTrain the same back, leaving between 17:00 and 19:00.
	morningTrain = 0.3
	eveningTrain = 0.2
	// A train journey takes trainWait plus up to trainJitter seconds, plus
	// the distance between the town centres at trainSpeed (cm/s, 90 km/h):
	// 30 to 105 minutes between the core and a satellite, at most 3 h 5 min
	// between two satellites (240 km apart).
	trainWait   = 600
	trainJitter = 900
	trainSpeed  = 2500
	// stationSD is the spread (cm) of a town's own station around its
	// centre.
	stationSD = 40_000
)

// town is the core city (index 0) or a satellite town.
type town struct {
	x, y     int32   // centre, cm east and north of the core's centre
	radius   float64 // cm: every position of the town is within radius of its centre
	scale    float64 // radius / cityRadius: the spreads of the mixtures shrink with the town
	hubs     []hub   // neighbourhood hubs, relative to the centre
	share    float64 // share of users and of venues
	cum      float64 // running sum of share, for drawing a home town
	v0, v1   int32   // its venues are [v0, v1)
	stations []int32 // its train stations, at least one when there are satellites
}

// newHubs draws n neighbourhood hubs 2.5-6 km (times scale) from a town's
// centre, at roughly even angles, of uneven size.
func newHubs(r rng, n int, scale float64) []hub {
	hubs := make([]hub, n)
	sum := 0.0
	for i := range hubs {
		a := (float64(i) + 0.6*r.float()) * 2 * math.Pi / float64(len(hubs))
		d := (250_000 + 350_000*r.float()) * scale
		sum += 0.5 + r.float()
		hubs[i] = hub{d * math.Cos(a), d * math.Sin(a), sum}
	}
	return hubs
}

// newTowns lays out cfg.Towns towns: the core with the given hubs, then
// the satellites, one in each of cfg.Towns-1 equal sectors around the core
// (turned by a random angle), drawn from their own random stream so that
// the core does not move with Towns. It also sets each town's venue range:
// venues are numbered town by town, at least minTownVenues each.
func newTowns(cfg Config, coreHubs []hub) []town {
	ts := make([]town, cfg.Towns)
	ts[0] = town{radius: cityRadius, scale: 1, hubs: coreHubs, share: 1}
	if n := len(ts) - 1; n > 0 {
		r := newRNG(cfg.Seed, 4)
		sum := 0.0
		for i := 1; i <= n; i++ {
			sum += 1 / float64(i)
		}
		turn := 2 * math.Pi * r.float()
		ts[0].share = coreShare
		for i := 1; i <= n; i++ {
			t := &ts[i]
			t.share = (1 - coreShare) / float64(i) / sum
			// Whole centimetres, so that the rest of the model does not
			// depend on the last bit of math.Sqrt or math.Cos.
			t.radius = max(math.Round(cityRadius*math.Sqrt(t.share/coreShare)), minTownRadius)
			t.scale = t.radius / cityRadius
			for try := 0; ; try++ {
				a := turn + (float64(i-1)+0.7*r.float())*2*math.Pi/float64(n)
				d := minTownDist + (maxTownDist-minTownDist)*r.float()
				t.x, t.y = int32(math.Round(d*math.Cos(a))), int32(math.Round(d*math.Sin(a)))
				// After 100 tries the last draw stays: towns may then
				// touch, which costs realism, not correctness.
				if try == 100 || !slices.ContainsFunc(ts[:i], func(o town) bool {
					return townDist(t, &o) < t.radius+o.radius+minTownGap
				}) {
					break
				}
			}
			t.hubs = newHubs(r, 2+int(10*t.share), t.scale)
		}
	}
	sum, v := 0.0, int32(0)
	for i := range ts {
		t := &ts[i]
		sum += t.share
		t.cum = sum
		t.v0 = v
		if i == 0 {
			// The core takes what the satellites leave.
			v += int32(cfg.Venues)
			for j := 1; j < len(ts); j++ {
				v -= max(int32(math.Round(ts[j].share*float64(cfg.Venues))), minTownVenues)
			}
		} else {
			v += max(int32(math.Round(t.share*float64(cfg.Venues))), minTownVenues)
		}
		t.v1 = v
	}
	return ts
}

// townDist returns the distance between two town centres in cm. Squared
// distances are exact in float64 (below 2^53) and math.Sqrt is correctly
// rounded, so the result is the same on every platform.
func townDist(a, b *town) float64 {
	dx, dy := int64(a.x-b.x), int64(a.y-b.y)
	return math.Sqrt(float64(dx*dx + dy*dy))
}

// reach returns the half-width in cm of the square around the core's
// centre that holds every town.
func reach(ts []town) int32 {
	var h int32
	for _, t := range ts {
		r := int32(t.radius)
		h = max(h, abs32(t.x)+r, abs32(t.y)+r)
	}
	return h
}

func abs32(v int32) int32 { return max(v, -v) }

// homeTown draws a town in proportion to its share of users.
func (c *city) homeTown(r rng) int {
	w := r.float() * c.towns[len(c.towns)-1].cum
	for i, t := range c.towns {
		if w < t.cum {
			return i
		}
	}
	return len(c.towns) - 1
}

// workTown draws a town other than home in proportion to its share, the
// core's counted coreJobs times.
func (c *city) workTown(r rng, home int) int {
	weight := func(i int) float64 {
		switch i {
		case home:
			return 0
		case 0:
			return coreJobs * c.towns[0].share
		}
		return c.towns[i].share
	}
	sum := 0.0
	for i := range c.towns {
		sum += weight(i)
	}
	w := r.float() * sum
	last := 0
	for i := range c.towns {
		if weight(i) == 0 {
			continue
		}
		if w -= weight(i); w < 0 {
			return i
		}
		last = i
	}
	return last
}

// trainTime returns the journey time in seconds between the centres of
// towns a and b, without the jitter.
func (c *city) trainTime(a, b int) int64 {
	return trainWait + int64(townDist(&c.towns[a], &c.towns[b]))/trainSpeed
}
