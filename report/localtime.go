package report

import (
	"math"
	"time"

	"github.com/geocloak/geocloak/geo"
)

// The input carries no time zone. Hours of the day (the time view, night for home
// inference) are local mean solar time: UTC plus the longitude / 15° hours, the
// longitude of the centre of the place's cell at clockRes. It follows the sun, not the
// civil clock: within about an hour of local time in most places (time zones are about
// 15° wide; daylight saving time and zones far from their meridian add up to two hours).
const clockRes = 3 // about 12,000 km²: its centre is within about 1° (4 minutes) of the place

// clock gives the local solar time offset of cells, caching it per clockRes cell.
// Not safe for concurrent use.
type clock struct {
	offset map[geo.Cell]int64 // ms
}

func newClock() *clock { return &clock{offset: make(map[geo.Cell]int64)} }

// local is the local mean solar time of the UTC instant ms (Unix ms) at cell, as Unix
// ms of a clock that reads local time as UTC.
func (k *clock) local(ms int64, cell geo.Cell) int64 {
	c := cell.Parent(min(clockRes, cell.Res()))
	off, ok := k.offset[c]
	if !ok {
		if p, err := c.Center(); err == nil {
			off = solarOffset(p.Lng)
		}
		k.offset[c] = off
	}
	return ms + off
}

// solarOffset is the offset of local mean solar time from UTC at longitude lng, ms.
func solarOffset(lng float64) int64 {
	return int64(math.Round(lng / 15 * float64(time.Hour/time.Millisecond)))
}

// hourOf is the hour of the day (0..23) of a local time (from clock.local).
func hourOf(local int64) int { return int(floorMod(local, 24*3600*1000) / (3600 * 1000)) }

// weekdayOf is the day of the week of a local time, Monday 0 to Sunday 6.
func weekdayOf(local int64) int {
	// 1970-01-01 was a Thursday (3 with Monday 0).
	return int(floorMod(floorDiv(local, 24*3600*1000)+3, 7))
}
