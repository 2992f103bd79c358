// Package synth generates a deterministic synthetic city of check-ins in the
// JSON shape of the Gowalla sample, for tests, the demo and benchmarks.
//
// The city has a dense centre and a few neighbourhood hubs, a few thousand
// venues with heavy-tailed popularity (a few per cent in sensitive
// categories), and users with home and work anchors, favourite venues and
// heavy-tailed activity that follows a daily and weekly rhythm. Lines come in
// time order with a little disorder, optionally with late arrivals and
// invalid records.
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

// Config describes a synthetic city. Zero numeric fields, a zero Start and a
// zero centre (both coordinates 0) take the defaults of DefaultConfig.
type Config struct {
	Seed   int64
	Users  int // default 3000
	Venues int // default 3000
	Days   int // default 7; ignored by Stream
	// Start is the beginning of the first day, default 2026-03-02T00:00:00Z;
	// it is rounded up to a whole second. Days are the 24-hour periods from
	// Start.
	Start                time.Time
	CenterLat, CenterLng float64 // degrees, default 45.7640, 4.8357
	// CheckinsPerUserPerDay is the mean over users and days, default 2.86,
	// which gives about 60,000 check-ins with the defaults.
	CheckinsPerUserPerDay float64
	// LateFraction of check-ins arrive 20 to 90 minutes after their ts.
	LateFraction float64
	// InvalidFraction of lines are replaced with invalid records.
	InvalidFraction float64
}

// DefaultConfig returns a city of 3000 users and 3000 venues over 7 days.
func DefaultConfig() Config {
	return Config{
		Seed:                  1,
		Users:                 3000,
		Venues:                3000,
		Days:                  7,
		Start:                 time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		CenterLat:             45.7640,
		CenterLng:             4.8357,
		CheckinsPerUserPerDay: 2.86,
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
	switch {
	case cfg.Users > math.MaxInt32 || cfg.Venues > math.MaxInt32:
		return cfg, errors.New("synth: too many users or venues")
	// The city spans about 0.1 degree of latitude and, at 80 degrees,
	// 0.4 degree of longitude; it must not cross a pole or the antimeridian.
	case !(math.Abs(cfg.CenterLat) <= 80) || !(math.Abs(cfg.CenterLng) <= 179):
		return cfg, fmt.Errorf("synth: centre %v,%v outside lat [-80, 80], lng [-179, 179]", cfg.CenterLat, cfg.CenterLng)
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
			v := g.c.pickVenue(g.ev, u, slots[i].hour, slots[i].weekend)
			// One draw decides the delay so that LateFraction does not
			// shift the rest of the event stream.
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
	}
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
