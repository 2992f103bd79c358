// Package synth generates a deterministic synthetic region of check-ins in
// the JSON shape of the Gowalla sample, for tests, the demo and benchmarks.
//
// The region is a core city and satellite towns of uneven size 30 to 120 km
// around it, so that it spans many H3 resolution-4 cells. Each town has a
// dense centre and a few neighbourhood hubs, venues with heavy-tailed
// popularity (a few per cent in sensitive categories) and a train station.
// Users live in one town, with home and work anchors, favourite venues and
// heavy-tailed activity that follows a daily and weekly rhythm; a quarter of
// them work in another town and check in at the stations when they commute,
// and a few check-ins are day trips anywhere in the region. Lines come in
// time order with a little disorder, optionally with late arrivals and
// invalid records. It imports only the standard library.
package synth

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Config describes a synthetic region. Zero numeric fields, a zero Start and
// a zero centre (both coordinates 0) take the defaults of DefaultConfig.
type Config struct {
	Seed   int64
	Users  int // default 5000, over all towns
	Venues int // default 5000, over all towns; at least 30 per town if Towns > 1
	Days   int // default 7; ignored by Stream
	// Towns is the number of towns, the core city included: default 11 (the
	// core and 10 satellites), at most 24. 1 is the single city, about
	// 15 km across, of earlier versions: the same seed and sizes give the
	// same bytes as they did.
	Towns int
	// Start is the beginning of the first day, default 2026-03-02T00:00:00Z;
	// it is rounded up to a whole second. Days are the 24-hour periods from
	// Start.
	Start time.Time
	// CenterLat, CenterLng is the core city's centre, degrees, default
	// 45.7640, 4.8357 (Lyon). With satellites it must be within lat
	// [-70, 70], lng [-175, 175], else [-80, 80] and [-179, 179].
	CenterLat, CenterLng float64
	// CheckinsPerUserPerDay is the mean over users and days of check-ins
	// other than the commuters' at stations, default 2. With the defaults
	// the region has about 70,000 check-ins plus 6,000 at stations.
	CheckinsPerUserPerDay float64
	// LateFraction of check-ins arrive 20 to 90 minutes after their ts.
	LateFraction float64
	// InvalidFraction of lines are replaced with invalid records.
	InvalidFraction float64
}

// DefaultConfig returns a region of 11 towns, 5000 users and 5000 venues
// over 7 days.
func DefaultConfig() Config {
	return Config{
		Seed:                  1,
		Users:                 5000,
		Venues:                5000,
		Days:                  7,
		Towns:                 11,
		Start:                 time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		CenterLat:             45.7640,
		CenterLng:             4.8357,
		CheckinsPerUserPerDay: 2,
	}
}

func (cfg Config) withDefaults() (Config, error) {
	def := DefaultConfig()
	if cfg.Users <= 0 {
		cfg.Users = def.Users
	}
	if cfg.Venues <= 0 {
		cfg.Venues = def.Venues
	}
	if cfg.Days <= 0 {
		cfg.Days = def.Days
	}
	if cfg.Towns <= 0 {
		cfg.Towns = def.Towns
	}
	if cfg.Start.IsZero() {
		cfg.Start = def.Start
	}
	if t := cfg.Start.Truncate(time.Second); !t.Equal(cfg.Start) {
		cfg.Start = t.Add(time.Second)
	}
	if cfg.CenterLat == 0 && cfg.CenterLng == 0 {
		cfg.CenterLat, cfg.CenterLng = def.CenterLat, def.CenterLng
	}
	if cfg.CheckinsPerUserPerDay <= 0 {
		cfg.CheckinsPerUserPerDay = def.CheckinsPerUserPerDay
	}
	// The city spans about 0.1 degree of latitude and, at 80 degrees, 0.4
	// degree of longitude; a region (regionReach, 127.5 km) 1.15 degree of
	// latitude and, at 70 degrees, 3.4 degrees of longitude. Neither may
	// cross a pole or the antimeridian.
	maxLat, maxLng := 80.0, 179.0
	if cfg.Towns > 1 {
		maxLat, maxLng = 70, 175
	}
	switch {
	case cfg.Users > math.MaxInt32 || cfg.Venues > math.MaxInt32:
		return cfg, errors.New("synth: too many users or venues")
	case cfg.Towns > maxTowns:
		return cfg, fmt.Errorf("synth: Towns %d above %d", cfg.Towns, maxTowns)
	case cfg.Towns > 1 && cfg.Venues < venuesPerTown*cfg.Towns:
		return cfg, fmt.Errorf("synth: Venues %d below %d for %d towns", cfg.Venues, venuesPerTown*cfg.Towns, cfg.Towns)
	case !(math.Abs(cfg.CenterLat) <= maxLat) || !(math.Abs(cfg.CenterLng) <= maxLng):
		return cfg, fmt.Errorf("synth: centre %v,%v outside lat [-%v, %v], lng [-%v, %v] for %d towns",
			cfg.CenterLat, cfg.CenterLng, maxLat, maxLat, maxLng, maxLng, cfg.Towns)
	case !(cfg.LateFraction >= 0 && cfg.LateFraction+disorderFraction <= 1):
		return cfg, fmt.Errorf("synth: LateFraction %v outside [0, %v]", cfg.LateFraction, 1-disorderFraction)
	case !(cfg.InvalidFraction >= 0 && cfg.InvalidFraction <= 1):
		return cfg, fmt.Errorf("synth: InvalidFraction %v outside [0, 1]", cfg.InvalidFraction)
	case math.IsInf(cfg.CheckinsPerUserPerDay, 0) || math.IsNaN(cfg.CheckinsPerUserPerDay):
		return cfg, errors.New("synth: CheckinsPerUserPerDay is not finite")
	}
	return cfg, nil
}

const (
	// disorderFraction of check-ins are delivered up to maxDisorder late,
	// the small disorder of real streams.
	disorderFraction = 0.01
	maxDisorder      = 180 // s
	minLate, maxLate = 20 * 60, 90 * 60
	// localOffset is the city's civil time minus UTC, in seconds. It is
	// CET, right for the default centre in March; the model ignores DST.
	localOffset = 3600
	day         = 86400 // s
)

// Relative check-in rate by local hour on weekdays and weekends: quiet
// nights, a lunch peak and an evening peak; weekends start and end later.
// The numbers are invented to have that shape.
var hourly = [2][24]float64{
	{1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3.5, 5, 4.5, 4, 5, 8, 7.5, 4.5, 4, 4.5, 6, 7.5, 8, 6.5, 4.5, 3, 2},
	{2.5, 2, 1.5, 1, 0.6, 0.4, 0.5, 1, 2, 3.5, 5, 6.5, 8, 8, 6.5, 6, 6, 6.5, 7, 7.5, 7, 6, 4.5, 3.5},
}

// dayFactor scales a user's rate on weekdays and weekends; it averages 1
// over a week.
var dayFactor = [2]float64{0.95, 1.125}

// checkin is an event between generation and output; the GPS noise and the
// caption are drawn when it is written.
type checkin struct {
	arrive int64 // unix s: when it is delivered, the sort key
	ts     int64 // unix s
	seq    int64 // event number, unique
	user   int32
	venue  int32
}

type generator struct {
	cfg     Config
	c       *city
	ev      rng // which check-ins happen
	rd      rng // noise and captions
	inv     rng // which lines are invalid
	seq     int64
	pending []checkin // generated, not yet emitted
	sorted  []checkin // spare buffer for sortByArrival
	count   []int32   // scratch for sortByArrival
	line    []byte
	alt     []byte // scratch for invalid lines
	dateDay int64  // day number of date
	date    []byte // "2006-01-02T" of dateDay
}

func newGenerator(cfg Config) (*generator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &generator{
		cfg:     cfg,
		c:       newCity(cfg),
		ev:      newRNG(cfg.Seed, 1),
		rd:      newRNG(cfg.Seed, 2),
		inv:     newRNG(cfg.Seed, 3),
		dateDay: -1 << 62,
	}, nil
}

// genDay appends the check-ins of day d (counted from Start) to g.pending.
func (g *generator) genDay(d int) {
	start := g.cfg.Start.Unix() + int64(d)*day
	type slot struct {
		cum     float64
		hour    int
		weekend bool
	}
	var slots [24]slot
	sum := 0.0
	for i := range slots {
		t := time.Unix(start+int64(i)*3600+localOffset, 0).UTC()
		wd := t.Weekday()
		s := &slots[i]
		s.hour, s.weekend = t.Hour(), wd == time.Saturday || wd == time.Sunday
		sum += hourly[b2i(s.weekend)][s.hour]
		s.cum = sum
	}
	factor := dayFactor[b2i(slots[12].weekend)]
	for ui := range g.c.users {
		u := &g.c.users[ui]
		for range g.ev.poisson(u.rate * factor) {
			w := g.ev.float() * sum
			i := 0
			for i < len(slots)-1 && w >= slots[i].cum {
				i++
			}
			ts := start + int64(i)*3600 + int64(g.ev.intn(3600))
			g.add(ts, ui, g.c.pickVenue(g.ev, u, slots[i].hour, slots[i].weekend))
		}
		if u.home != u.work && !slots[12].weekend {
			g.commute(start, ui, u)
		}
	}
}

// Commuters' trains leave in these two-hour spans, local time (s).
const (
	morningFrom = 6*3600 + 1800
	eveningFrom = 17 * 3600
	trainSpan   = 2 * 3600
)

// commute adds the station check-ins of commuter u on the weekday that
// starts at start (unix s): on leaving, at a station of the town left, and
// on arrival, at one of the other. Each journey ends by 22:05 local time
// (19:00 plus at most 3 h 5 min between satellites 240 km apart), inside
// the day.
func (g *generator) commute(start int64, ui int, u *user) {
	for _, j := range [2]struct {
		p        float64
		from     int64
		src, dst int8
	}{{morningTrain, morningFrom, u.home, u.work}, {eveningTrain, eveningFrom, u.work, u.home}} {
		if g.ev.float() >= j.p {
			continue
		}
		src, dst := &g.c.towns[j.src], &g.c.towns[j.dst]
		leave := start + j.from - localOffset + int64(g.ev.intn(trainSpan))
		g.add(leave, ui, g.c.pickFrom(g.ev, src.stations))
		arrive := leave + g.c.trainTime(int(j.src), int(j.dst)) + int64(g.ev.intn(trainJitter))
		g.add(arrive, ui, g.c.pickFrom(g.ev, dst.stations))
	}
}

// add appends a check-in by user ui at venue v at ts (unix s) to g.pending,
// drawing its delivery delay.
func (g *generator) add(ts int64, ui int, v int32) {
	// One draw decides the delay so that LateFraction does not shift the
	// rest of the event stream.
	arrive := ts
	switch p := g.ev.float(); {
	case p < g.cfg.LateFraction:
		arrive += minLate + int64(p/g.cfg.LateFraction*(maxLate-minLate))
	case p < g.cfg.LateFraction+disorderFraction:
		arrive += 1 + int64((p-g.cfg.LateFraction)/disorderFraction*maxDisorder)
	}
	g.seq++
	g.pending = append(g.pending, checkin{arrive, ts, g.seq, int32(ui), v})
}

// sortByArrival returns g.pending sorted by arrival, then seq, in g.sorted.
// Every pending check-in arrives in [start, start+day+maxLate]: those of
// earlier days that were not emitted arrive after start. A counting sort by
// second is linear and, being stable, keeps equal arrivals in the order of
// g.pending, which is seq order: held-over check-ins are sorted and have
// smaller seq than the day's new ones, which are generated in seq order.
func (g *generator) sortByArrival(start int64) []checkin {
	count := slices.Grow(g.count[:0], day+maxLate+2)[:day+maxLate+2]
	clear(count)
	for _, c := range g.pending {
		count[c.arrive-start+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	out := slices.Grow(g.sorted[:0], len(g.pending))[:len(g.pending)]
	for _, c := range g.pending {
		out[count[c.arrive-start]] = c
		count[c.arrive-start]++
	}
	g.count = count
	return out
}

// errDone tells Stream that run stopped because its context is done.
var errDone = errors.New("synth: done")

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// run generates days [0, days), or forever if days < 0, and passes each line
// to emit in delivery order. A check-in is held back until its delivery time
// falls inside the day being flushed, so lateness crosses midnight.
func (g *generator) run(done <-chan struct{}, days int, emit func([]byte) error) error {
	for d := 0; days < 0 || d < days; d++ {
		g.genDay(d)
		start := g.cfg.Start.Unix() + int64(d)*day
		g.pending, g.sorted = g.sortByArrival(start), g.pending
		end := start + day
		cut := len(g.pending)
		if d+1 != days {
			cut, _ = slices.BinarySearchFunc(g.pending, end, func(c checkin, t int64) int { return cmp.Compare(c.arrive, t) })
		}
		for i := range cut {
			if done != nil {
				select {
				case <-done:
					return errDone
				default:
				}
			}
			if err := emit(g.render(&g.pending[i])); err != nil {
				return err
			}
		}
		g.pending = g.pending[:copy(g.pending, g.pending[cut:])]
	}
	return nil
}

// Generate writes the check-ins of cfg.Days days as JSONL to w and returns
// the number of lines written. The output depends only on cfg.
func Generate(cfg Config, w io.Writer) (n int, err error) {
	g, err := newGenerator(cfg)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	err = g.run(nil, g.cfg.Days, func(line []byte) error {
		bw.Write(line) // bufio keeps the first error; WriteByte returns it
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// Stream passes an endless stream of check-in lines, in time order from
// cfg.Start, to fn until ctx is done (it returns ctx.Err()) or fn returns an
// error (it returns that error). Lines have no trailing newline and are only
// valid during the call. cfg.Days is ignored.
func Stream(ctx context.Context, cfg Config, fn func(line []byte) error) error {
	g, err := newGenerator(cfg)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := g.run(ctx.Done(), -1, fn); err != errDone {
		return err
	}
	return ctx.Err()
}
