// Package report provides the privacy reviewer's report on what a configuration
// releases: per-partner summaries, hex maps of released and suppressed volume on a base
// map, release and suppression by time, a threshold sweep computed by the engine itself
// with what to change, and the figures of attacks run on what each partner receives
// (class sizes, tuples, prosecutor risk, unicity, home inference, category effects, the
// cross-partner subtraction), each beside its baseline. It renders them as one
// self-contained HTML file, as GeoJSON, and as text.
//
// The figures (report.go, collect.go, attack.go, timeline.go, localtime.go, sweep.go,
// advice.go, differencing.go) are computed apart from their rendering (html*.go, map*.go,
// chart*.go, geojson.go, text.go, format.go): they import no rendering package and format
// nothing (TestFiguresApartFromRendering), so that each is tested on hand-made inputs. It
// drives the release engine (package cloak) and never the Kafka stages (TestLayout).
//
// What it holds in memory is inside the trust boundary: a compact copy of every event
// (its cell at cell_resolution, a dense user index standing for the keyed pseudonym,
// time, category) and each partner's outcome. What it writes holds none of it: no user, pseudonym, event id,
// coordinate or cell that failed k.
package report

import (
	"cmp"
	"slices"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// event is one check-in that reached a window, as the report keeps it: 24 bytes, plus
// one int32 outcome per partner in Collector.outcomes.
type event struct {
	cell geo.Cell // at cell_resolution
	time int64    // Unix ms
	user int32    // dense index of the keyed pseudonym; the pseudonym itself is not kept
	cat  uint32   // index into Collector.cats
}

// class is one released class of one partner: a cell in a window.
type class struct {
	cell       geo.Cell
	start      int64 // window start, Unix ms
	users      int32 // distinct users among the records released in it
	checkins   int32
	noCategory bool // l-diversity withheld its category
	// tuples are what the partner can tell apart inside it: per category as shown (""
	// none), sorted by it. Events mode only.
	tuples []tupleStat
}

// tupleStat is one released tuple (window, cell, resolution, category as shown).
type tupleStat struct {
	label   string
	users   int32 // distinct users among its records
	records int32
}

// Collector is a cloak.Output that records what the report needs and passes every
// call on to another Output (a tee), so that evaluate still writes its files. It keeps
// every event that reached a window: memory grows with the input (about 24 bytes plus
// 4 per partner per event), unlike evaluate's own, which is bounded by open windows.
// Not safe for concurrent use, like every Output.
type Collector struct {
	next     cloak.Output
	partners int
	userIdx  map[cloak.Pseudonym]int32
	cats     []string
	catIdx   map[string]uint32
	events   []event
	// outcomes[i*partners+p] is event i's outcome for partner p: the index of its class
	// in classes[p] when released, else -Reason.
	outcomes []int32
	classes  [][]class
	windows  int
	classIdx map[*cloak.Class]int32 // scratch: index in classes[p] of a class of one release
	diff     *DiffCollector         // what every partner received, for the cross-partner check
	scratch  []int32
}

// NewCollector returns a Collector for partners partners that forwards to next (nil:
// nothing is forwarded).
func NewCollector(partners int, next cloak.Output) *Collector {
	return &Collector{
		next:     next,
		partners: partners,
		userIdx:  make(map[cloak.Pseudonym]int32),
		catIdx:   map[string]uint32{"": 0},
		cats:     []string{""},
		classes:  make([][]class, partners),
		classIdx: make(map[*cloak.Class]int32),
		diff:     NewDiffCollector(partners, nil),
	}
}

// Suppressed implements cloak.Output. Invalid and late events never reached a
// window: the engine gives no cell or user for them, so the report only counts them
// (from the summary).
func (c *Collector) Suppressed(id string, reason cloak.Reason, detail string, w *cloak.Window) error {
	if c.next == nil {
		return nil
	}
	return c.next.Suppressed(id, reason, detail, w)
}

// Released implements cloak.Output.
func (c *Collector) Released(rel *cloak.Release) error {
	if c.next != nil {
		if err := c.next.Released(rel); err != nil {
			return err
		}
	}
	c.windows++
	base := len(c.events)
	for i := range rel.Len() {
		ev := rel.Event(i)
		u, ok := c.userIdx[ev.User]
		if !ok {
			u = int32(len(c.userIdx))
			c.userIdx[ev.User] = u
		}
		cat, ok := c.catIdx[ev.Category]
		if !ok {
			cat = uint32(len(c.cats))
			c.cats = append(c.cats, ev.Category)
			c.catIdx[ev.Category] = cat
		}
		c.events = append(c.events, event{cell: ev.Cell, time: ev.Time, user: u, cat: cat})
	}
	n := len(c.outcomes)
	c.outcomes = slices.Grow(c.outcomes, rel.Len()*c.partners)[:n+rel.Len()*c.partners]
	for p := range rel.Partners {
		pr := &rel.Partners[p]
		// Only classes that some event was released in are kept: the engine may hold
		// classes it did not release (a dp threshold not passed).
		clear(c.classIdx)
		for i := range rel.Len() {
			cl, reason := pr.Outcome(i)
			o := -int32(reason)
			if reason == cloak.Released {
				x, ok := c.classIdx[cl]
				if !ok {
					x = int32(len(c.classes[p]))
					c.classIdx[cl] = x
					c.classes[p] = append(c.classes[p], class{cell: cl.Cell, start: rel.Window.Start,
						users: int32(cl.Users), checkins: int32(cl.Checkins), noCategory: cl.NoCategory})
				}
				o = x
			}
			c.outcomes[(base+i)*c.partners+p] = o
		}
		if pr.Policy.Mode == config.ModeEvents {
			c.addTuples(rel, p, base)
		}
	}
	return c.diff.Released(rel)
}

// addTuples counts the distinct users and records of every tuple partner p received in
// the release whose first event is events[base].
func (c *Collector) addTuples(rel *cloak.Release, p, base int) {
	idx := c.scratch[:0]
	for i := range rel.Len() {
		if c.outcomes[(base+i)*c.partners+p] >= 0 {
			idx = append(idx, int32(i))
		}
	}
	key := func(i int32) (int32, string, int32) {
		return c.outcomes[(base+int(i))*c.partners+p], rel.Label(p, int(i)), c.events[base+int(i)].user
	}
	slices.SortFunc(idx, func(a, b int32) int {
		xa, la, ua := key(a)
		xb, lb, ub := key(b)
		return cmp.Or(cmp.Compare(xa, xb), cmp.Compare(la, lb), cmp.Compare(ua, ub))
	})
	for j := 0; j < len(idx); {
		x, l, _ := key(idx[j])
		t := tupleStat{label: l}
		prev := int32(-1)
		for ; j < len(idx); j++ {
			xj, lj, uj := key(idx[j])
			if xj != x || lj != l {
				break
			}
			if uj != prev {
				t.users++
				prev = uj
			}
			t.records++
		}
		c.classes[p][x].tuples = append(c.classes[p][x].tuples, t)
	}
	c.scratch = idx
}

// outcome is event i's outcome for partner p: its class index, or -1 and the reason.
func (c *Collector) outcome(i, p int) (int32, cloak.Reason) {
	o := c.outcomes[i*c.partners+p]
	if o >= 0 {
		return o, cloak.Released
	}
	return -1, cloak.Reason(-o)
}

// Users is the number of distinct users among the events that reached a window.
func (c *Collector) Users() int { return len(c.userIdx) }

// Events is the number of events that reached a window.
func (c *Collector) Events() int { return len(c.events) }
