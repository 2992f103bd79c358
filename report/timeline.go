package report

import "github.com/geocloak/geocloak/cloak"

// Outcomes counts check-ins that reached a window by what happened to them.
type Outcomes struct {
	In       int
	ByReason [cloak.NumReasons]int // Released, and each suppression reason
}

// Released is the number of check-ins released.
func (o *Outcomes) Released() int { return o.ByReason[cloak.Released] }

// TimeProfile is where in time k is not met: a partner's outcomes by the local hour of
// the day and the day of the week of each check-in (local mean solar time, see clock).
// Invalid and late records never reached a window and are not in it.
type TimeProfile struct {
	Hours [24]Outcomes
	Days  [7]Outcomes // Monday first
}

// timeProfile counts partner p's outcomes by the local time of each check-in at its cell.
func (c *Collector) timeProfile(p int, clk *clock) TimeProfile {
	var tp TimeProfile
	for i := range c.events {
		e := &c.events[i]
		_, reason := c.outcome(i, p)
		local := clk.local(e.time, e.cell)
		h, d := &tp.Hours[hourOf(local)], &tp.Days[weekdayOf(local)]
		h.In++
		h.ByReason[reason]++
		d.In++
		d.ByReason[reason]++
	}
	return tp
}
