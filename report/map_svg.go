package report

import (
	"math"
	"strconv"

	"github.com/geocloak/geocloak/report/basemap"
)

// A map's geography, drawn as SVG paths in the map's pixels.

// xy is a point in SVG pixels.
type xy struct{ x, y float64 }

// rect is a box in pixels: the clip window, a label, a released cell's extent.
type rect struct{ x0, y0, x1, y1 float64 }

// pathBuilder writes SVG path data in tenths of a pixel: each ring starts at an
// absolute point and goes on by relative steps, computed between rounded points so that
// rounding never drifts.
type pathBuilder struct{ b []byte }

func (p *pathBuilder) ring(pts []xy, closed bool) {
	var px, py int64
	for i, q := range pts {
		x, y := int64(math.Round(q.x*10)), int64(math.Round(q.y*10))
		switch i {
		case 0:
			p.b = append(p.b, 'M')
			p.b = appendTenths(p.b, x)
			p.b = append(p.b, ',')
			p.b = appendTenths(p.b, y)
		case 1:
			p.b = append(p.b, 'l')
		default:
			p.b = append(p.b, ' ')
		}
		if i > 0 {
			p.b = appendTenths(p.b, x-px)
			p.b = append(p.b, ',')
			p.b = appendTenths(p.b, y-py)
		}
		px, py = x, y
	}
	if closed && len(pts) > 0 {
		p.b = append(p.b, 'z')
	}
}

// appendTenths writes v/10 with at most one decimal: 12 is "1.2", -8 "-0.8", 30 "3".
func appendTenths(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/10, 10)
	if d := v % 10; d != 0 {
		b = append(b, '.', byte('0'+d))
	}
	return b
}

func (p *pathBuilder) String() string { return string(p.b) }

// decimate drops points closer than tol pixels to the last one kept (the last point is
// always kept), so that a coastline costs a few points per pixel of length, not the
// source's thousands.
func decimate(pts []xy, tol float64) []xy {
	if len(pts) < 3 {
		return pts
	}
	out := pts[:1:1]
	out = append([]xy(nil), out...)
	for _, q := range pts[1 : len(pts)-1] {
		l := out[len(out)-1]
		if math.Abs(q.x-l.x) >= tol || math.Abs(q.y-l.y) >= tol {
			out = append(out, q)
		}
	}
	return append(out, pts[len(pts)-1])
}

// clipPolygon clips a closed ring to r (Sutherland–Hodgman). The ring may be concave:
// its parts outside r collapse onto r's edges, which adds no area to a fill.
func clipPolygon(pts []xy, r rect) []xy {
	type edge struct {
		in  func(xy) bool
		cut func(a, b xy) xy
	}
	lerpX := func(a, b xy, x float64) xy { return xy{x, a.y + (b.y-a.y)*(x-a.x)/(b.x-a.x)} }
	lerpY := func(a, b xy, y float64) xy { return xy{a.x + (b.x-a.x)*(y-a.y)/(b.y-a.y), y} }
	edges := []edge{
		{func(p xy) bool { return p.x >= r.x0 }, func(a, b xy) xy { return lerpX(a, b, r.x0) }},
		{func(p xy) bool { return p.x <= r.x1 }, func(a, b xy) xy { return lerpX(a, b, r.x1) }},
		{func(p xy) bool { return p.y >= r.y0 }, func(a, b xy) xy { return lerpY(a, b, r.y0) }},
		{func(p xy) bool { return p.y <= r.y1 }, func(a, b xy) xy { return lerpY(a, b, r.y1) }},
	}
	out := pts
	for _, e := range edges {
		if len(out) == 0 {
			break
		}
		in := out
		out = make([]xy, 0, len(in)+4)
		prev := in[len(in)-1]
		for _, cur := range in {
			switch ci, pi := e.in(cur), e.in(prev); {
			case ci && pi:
				out = append(out, cur)
			case ci:
				out = append(out, e.cut(prev, cur), cur)
			case pi:
				out = append(out, e.cut(prev, cur))
			}
			prev = cur
		}
	}
	return out
}

// clipLine clips a polyline to r (Liang–Barsky per segment) and returns the parts
// inside, each a polyline.
func clipLine(pts []xy, r rect) [][]xy {
	var out [][]xy
	var cur []xy
	flush := func() {
		if len(cur) >= 2 {
			out = append(out, cur)
		}
		cur = nil
	}
	for i := 1; i < len(pts); i++ {
		a, b, ok := clipSegment(pts[i-1], pts[i], r)
		if !ok {
			flush()
			continue
		}
		if len(cur) == 0 || cur[len(cur)-1] != a {
			flush()
			cur = append(cur, a)
		}
		cur = append(cur, b)
		if b != pts[i] { // left the window
			flush()
		}
	}
	flush()
	return out
}

func clipSegment(a, b xy, r rect) (xy, xy, bool) {
	t0, t1 := 0.0, 1.0
	dx, dy := b.x-a.x, b.y-a.y
	for _, c := range [4][2]float64{{-dx, a.x - r.x0}, {dx, r.x1 - a.x}, {-dy, a.y - r.y0}, {dy, r.y1 - a.y}} {
		p, q := c[0], c[1]
		switch {
		case p == 0:
			if q < 0 {
				return a, b, false
			}
		case p < 0:
			t0 = max(t0, q/p)
		default:
			t1 = min(t1, q/p)
		}
		if t0 > t1 {
			return a, b, false
		}
	}
	na, nb := a, b
	if t0 > 0 {
		na = xy{a.x + t0*dx, a.y + t0*dy}
	}
	if t1 < 1 {
		nb = xy{a.x + t1*dx, a.y + t1*dy}
	}
	return na, nb, true
}

// geoView projects degrees to a map's pixels; box is what the map shows, in degrees.
type geoView struct {
	project func(basemap.Point) xy
	box     basemap.Box
	clip    rect
	tol     float64 // decimation, pixels
	minSize float64 // rings smaller than this, pixels, are left out
}

// shifts are the longitude offsets at which an item is also tried: a view past the
// antimeridian (cells unwrapped to longitudes above 180) shows items from the other side.
func (v *geoView) shifts(b basemap.Box) []float64 {
	var out []float64
	for _, s := range []float64{0, 360, -360} {
		if v.box.Intersects(basemap.Box{MinLng: b.MinLng + s, MinLat: b.MinLat, MaxLng: b.MaxLng + s, MaxLat: b.MaxLat}) {
			out = append(out, s)
		}
	}
	return out
}

func (v *geoView) ring(r []basemap.Point, shift float64) []xy {
	out := make([]xy, len(r))
	for i, p := range r {
		out[i] = v.project(basemap.Point{Lng: p.Lng + shift, Lat: p.Lat})
	}
	return decimate(out, v.tol)
}

// fill is the path of a layer's polygons clipped to the view (to be filled with the
// even-odd rule: holes are rings of their own).
func (v *geoView) fill(l *basemap.Layer) string {
	var pb pathBuilder
	v.eachRing(l, true, func(pts []xy) {
		c := clipPolygon(pts, v.clip)
		if len(c) >= 3 && area(c) >= 0.25 {
			pb.ring(c, true)
		}
	})
	return pb.String()
}

// stroke is the path of a layer's lines, or of its polygons' outlines, clipped to the
// view: the clip window's edges are never stroked.
func (v *geoView) stroke(l *basemap.Layer) string {
	var pb pathBuilder
	if l == nil {
		return ""
	}
	v.eachRing(l, l.Kind == basemap.Polygons, func(pts []xy) {
		if l.Kind == basemap.Polygons && len(pts) > 0 {
			pts = append(pts, pts[0])
		}
		for _, part := range clipLine(pts, v.clip) {
			pb.ring(part, false)
		}
	})
	return pb.String()
}

// eachRing calls fn with every ring of layer l (nil: none) projected into the view, once
// for each copy of its item the view shows across the antimeridian; with skipSmall, items
// smaller than minSize pixels both ways are left out.
func (v *geoView) eachRing(l *basemap.Layer, skipSmall bool, fn func([]xy)) {
	if l == nil {
		return
	}
	for i := range l.Items {
		it := &l.Items[i]
		for _, s := range v.shifts(it.Box) {
			if skipSmall && v.tooSmall(it.Box, s) {
				continue
			}
			for _, r := range it.Rings {
				fn(v.ring(r, s))
			}
		}
	}
}

// tooSmall reports whether an item of box b (shifted by shift degrees of longitude)
// would be smaller than minSize pixels both ways: an island of a pixel says nothing.
func (v *geoView) tooSmall(b basemap.Box, shift float64) bool {
	if v.minSize <= 0 {
		return false
	}
	p := v.project(basemap.Point{Lng: b.MinLng + shift, Lat: b.MinLat})
	q := v.project(basemap.Point{Lng: b.MaxLng + shift, Lat: b.MaxLat})
	return math.Abs(q.x-p.x) < v.minSize && math.Abs(q.y-p.y) < v.minSize
}

// area is the absolute area of a ring, pixels².
func area(pts []xy) float64 {
	a := 0.0
	for i := range pts {
		p, q := pts[i], pts[(i+1)%len(pts)]
		a += p.x*q.y - q.x*p.y
	}
	return math.Abs(a) / 2
}
