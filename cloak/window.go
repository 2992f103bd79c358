package cloak

import (
	"math"
	"slices"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// NoWatermark is the watermark of a source that has seen nothing yet.
const NoWatermark = math.MinInt64

// Watermark tracks one source's event-time progress (a raw partition in the stream; the
// file, or each raw partition, in evaluate: the same code, so the same decisions). It
// moves only to an event time that at least `users` distinct users have reached: it is
// the users-th latest of the users' latest event times, minus the allowed lateness. So
// no set of fewer than `users` users can move it, however far ahead their records are
// dated: one wrong clock or one forged check-in cannot make other people's check-ins
// late. Event times come from valid check-ins, which are never later than the wall clock
// plus input.max_future, and neither is the watermark.
//
// An event is late when the window it belongs to ends at or before the watermark, which
// is exactly when that window may already have been released. Times are Unix
// milliseconds. The zero value is not usable; use NewWatermark. A Watermark is a value:
// a copy (a round's working copy in ingest) is independent of the original.
type Watermark struct {
	lateness int64
	wm       int64
	users    int // how many users must have reached a time
	n        int // entries of top in use
	low      int // index of the earliest of top[:n]
	// top holds the users with the latest event times, each with its latest time: exact,
	// because a user that drops out has a latest time no later than the users-th, which
	// only grows, so it can come back only with a new, later event.
	top [config.MaxWatermarkUsers]WatermarkUser
}

// WatermarkUser is one user's latest event time, as a Watermark keeps it.
type WatermarkUser struct {
	User Pseudonym
	Time int64
}

// NewWatermark returns the watermark of a source with nothing seen yet: lateness in ms,
// users in [1, config.MaxWatermarkUsers].
func NewWatermark(lateness int64, users int) Watermark {
	return Watermark{lateness: lateness, wm: NoWatermark, users: max(1, min(users, config.MaxWatermarkUsers))}
}

// Value is the current watermark, NoWatermark until `users` users have been seen.
func (w *Watermark) Value() int64 { return w.wm }

// Late reports whether an event in the window ending at end comes too late.
func (w *Watermark) Late(end int64) bool { return end <= w.wm }

// Observe records an event of user at t and moves the watermark forward if that makes
// `users` users reach a later time (never backward).
func (w *Watermark) Observe(t int64, user Pseudonym) {
	if w.n == w.users && t <= w.top[w.low].Time {
		// Neither enters the set nor raises a member's time above the earliest one.
		return
	}
	i := 0
	for i < w.n && w.top[i].User != user {
		i++
	}
	switch {
	case i < w.n:
		w.top[i].Time = max(w.top[i].Time, t)
	case w.n < w.users:
		w.top[w.n] = WatermarkUser{User: user, Time: t}
		w.n++
	default:
		w.top[w.low] = WatermarkUser{User: user, Time: t}
	}
	w.low = 0
	for j := 1; j < w.n; j++ {
		if w.top[j].Time < w.top[w.low].Time {
			w.low = j
		}
	}
	if w.n == w.users {
		w.Raise(w.top[w.low].Time - w.lateness)
	}
}

// Raise moves the watermark to at least wm (an idle source advancing by wall clock).
func (w *Watermark) Raise(wm int64) {
	if wm > w.wm {
		w.wm = wm
	}
}

// Users returns the users with the latest event times, with those times: with Value,
// what Restore needs to go on exactly where w is.
func (w *Watermark) Users() []WatermarkUser { return append([]WatermarkUser(nil), w.top[:w.n]...) }

// Restore sets the watermark to at least wm and gives it the users Users returned (from
// a commit of a previous run; if `users` is now smaller, the latest ones are kept).
func (w *Watermark) Restore(wm int64, users []WatermarkUser) {
	w.Raise(wm)
	for _, u := range users {
		w.Observe(u.Time, u.User)
	}
}

// WindowStart is the start of the tumbling window of size (ms) holding t (ms): windows
// are aligned to the Unix epoch.
func WindowStart(t, size int64) int64 {
	s := t - t%size
	if t < 0 && t%size != 0 {
		s -= size
	}
	return s
}

// item is one buffered event: 40 bytes. The category is an index into the window's own
// dictionary, so that memory for categories is freed with the window.
type item struct {
	cell geo.Cell
	user Pseudonym
	// off and src identify the event (raw offset and partition in the stream; line
	// number in evaluate): copies of one event are dropped at release.
	off  int64
	time uint32 // ms since the window start
	cat  uint32
	ref  uint32 // arrival position in the window: audit ids and the last tie-break
	src  int32
}

// Window is one open tumbling window: the events buffered for it.
type Window struct {
	Start, End int64 // Unix ms, [Start, End)
	items      []item
	cats       []string
	catIdx     map[string]uint32
	ids        []string // event ids, kept only for audits
}

// Len is the number of events buffered in w.
func (w *Window) Len() int { return len(w.items) }

// EventID is the id of the event that arrived ref-th in w, when ids are kept.
func (w *Window) EventID(ref uint32) string {
	if int(ref) < len(w.ids) {
		return w.ids[ref]
	}
	return ""
}

func (w *Window) add(ev *Event, src int32, off int64, id string, keepIDs bool) {
	c, ok := w.catIdx[ev.Category]
	if !ok {
		c = uint32(len(w.cats))
		w.cats = append(w.cats, ev.Category)
		w.catIdx[ev.Category] = c
	}
	w.items = append(w.items, item{cell: ev.Cell, user: ev.User, off: off, time: uint32(ev.Time - w.Start),
		cat: c, ref: uint32(len(w.items)), src: src})
	if keepIDs {
		w.ids = append(w.ids, id)
	}
}

// Windows buffers events in tumbling event-time windows until a watermark closes them.
// It is not safe for concurrent use.
type Windows struct {
	size    int64
	keepIDs bool
	open    map[int64]*Window
	starts  []int64 // sorted starts of open windows
	events  int
}

// NewWindows returns an empty set of windows of size ms. With keepIDs, event ids are
// kept for audit lines.
func NewWindows(size int64, keepIDs bool) *Windows {
	return &Windows{size: size, keepIDs: keepIDs, open: make(map[int64]*Window)}
}

// End is the end of the window holding t.
func (ws *Windows) End(t int64) int64 { return WindowStart(t, ws.size) + ws.size }

// Add buffers ev, identified by (src, off): adding the same event twice (a copy from a
// retried write, or a re-read) does not count it twice. id is the event id, kept only
// for audits. The caller has checked that ev is not late.
func (ws *Windows) Add(ev *Event, src int32, off int64, id string) {
	start := WindowStart(ev.Time, ws.size)
	w, ok := ws.open[start]
	if !ok {
		w = &Window{Start: start, End: start + ws.size, catIdx: make(map[string]uint32)}
		ws.open[start] = w
		i, _ := slices.BinarySearch(ws.starts, start)
		ws.starts = slices.Insert(ws.starts, i, start)
	}
	w.add(ev, src, off, id, ws.keepIDs)
	ws.events++
}

// Close removes and returns, oldest first, every window that ends at or before wm.
func (ws *Windows) Close(wm int64) []*Window {
	var out []*Window
	for len(ws.starts) > 0 && ws.starts[0]+ws.size <= wm {
		w := ws.open[ws.starts[0]]
		delete(ws.open, ws.starts[0])
		ws.starts = ws.starts[1:]
		ws.events -= len(w.items)
		out = append(out, w)
	}
	return out
}

// NewestStart is the start of the newest open window, or math.MinInt64 when none is.
func (ws *Windows) NewestStart() int64 {
	if len(ws.starts) == 0 {
		return math.MinInt64
	}
	return ws.starts[len(ws.starts)-1]
}

// Open is the number of open windows; Buffered the number of events they hold.
func (ws *Windows) Open() int     { return len(ws.starts) }
func (ws *Windows) Buffered() int { return ws.events }

// OldestEnd is the end of the oldest open window, or math.MaxInt64 when none is open.
func (ws *Windows) OldestEnd() int64 {
	if len(ws.starts) == 0 {
		return math.MaxInt64
	}
	return ws.starts[0] + ws.size
}
