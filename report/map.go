package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/report/basemap"
)

type bbox struct{ minLat, maxLat, minLng, maxLng float64 }

func emptyBox() bbox { return bbox{math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)} }

func (b *bbox) add(p geo.Point) {
	b.minLat, b.maxLat = min(b.minLat, p.Lat), max(b.maxLat, p.Lat)
	b.minLng, b.maxLng = min(b.minLng, p.Lng), max(b.maxLng, p.Lng)
}

func (b *bbox) union(o bbox) {
	b.minLat, b.maxLat = min(b.minLat, o.minLat), max(b.maxLat, o.maxLat)
	b.minLng, b.maxLng = min(b.minLng, o.minLng), max(b.maxLng, o.maxLng)
}

func (b bbox) intersects(o bbox) bool {
	return b.minLat <= o.maxLat && o.minLat <= b.maxLat && b.minLng <= o.maxLng && o.minLng <= b.maxLng
}

// mapItem is one drawable cell: released (coloured) or suppressed (hatched).
type mapItem struct {
	cc       CellCount
	released bool
	ring     []geo.Point
	box      bbox
}

func newMapItem(cc CellCount, released bool) (mapItem, error) {
	ring, err := cc.Cell.Boundary()
	if err != nil {
		return mapItem{}, err
	}
	it := mapItem{cc: cc, released: released, ring: unwrapRing(ring), box: emptyBox()}
	for _, p := range it.ring {
		it.box.add(p)
	}
	return it, nil
}

// cluster is one area drawn as a map: released cells within about a degree of each
// other, and the suppressed cells that touch them. Its box is the extent the map is
// fitted to: the released cells and the centres of those suppressed cells.
type cluster struct {
	items      []int
	box        bbox
	released   int // check-ins
	suppressed int
}

// clusterDeg is the bucket size of clustering, degrees: released cells in neighbouring
// buckets are one area.
const clusterDeg = 1.0

// clusters groups items into areas: the primary items (released cells, or suppressed
// ones when nothing was released) by adjacency of 1° buckets of their centres; each
// other item joins the first area whose extent it touches. Items that join none are
// left for the overview only. Areas are sorted by volume, largest first.
func clusters(items []mapItem) []cluster {
	primary := func(it *mapItem) bool { return it.released }
	hasReleased := slices.ContainsFunc(items, func(it mapItem) bool { return it.released })
	if !hasReleased {
		primary = func(*mapItem) bool { return true }
	}
	type key struct{ lat, lng int }
	keyOf := func(it *mapItem) key {
		b := it.box
		return key{int(math.Floor((b.minLat + b.maxLat) / 2 / clusterDeg)), int(math.Floor((b.minLng + b.maxLng) / 2 / clusterDeg))}
	}
	buckets := make(map[key]int) // bucket -> union-find node
	var parent []int
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	var keys []key
	for i := range items {
		if !primary(&items[i]) {
			continue
		}
		k := keyOf(&items[i])
		if _, ok := buckets[k]; !ok {
			buckets[k] = len(parent)
			parent = append(parent, len(parent))
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		for dl := -1; dl <= 1; dl++ {
			for dg := -1; dg <= 1; dg++ {
				if n, ok := buckets[key{k.lat + dl, k.lng + dg}]; ok {
					a, b := find(buckets[k]), find(n)
					if a != b {
						parent[max(a, b)] = min(a, b)
					}
				}
			}
		}
	}
	byRoot := make(map[int]*cluster)
	var out []*cluster
	for i := range items {
		if !primary(&items[i]) {
			continue
		}
		root := find(buckets[keyOf(&items[i])])
		c := byRoot[root]
		if c == nil {
			c = &cluster{box: emptyBox()}
			byRoot[root] = c
			out = append(out, c)
		}
		c.items = append(c.items, i)
		c.box.union(items[i].box)
		c.add(&items[i])
	}
	sortClusters(out)
	core := make([]bbox, len(out))
	for i, c := range out {
		core[i] = c.box
	}
	for i := range items {
		if primary(&items[i]) {
			continue
		}
		for j, c := range out {
			if core[j].intersects(items[i].box) {
				c.items = append(c.items, i)
				// Only the centre widens the extent: a partition cell is much larger
				// than the released cells it holds, and the map clips it at the edge.
				b := items[i].box
				c.box.add(geo.Point{Lat: (b.minLat + b.maxLat) / 2, Lng: (b.minLng + b.maxLng) / 2})
				c.add(&items[i])
				break
			}
		}
	}
	sortClusters(out)
	res := make([]cluster, len(out))
	for i, c := range out {
		res[i] = *c
	}
	return res
}

func (c *cluster) add(it *mapItem) {
	if it.released {
		c.released += it.cc.Checkins
	} else {
		c.suppressed += it.cc.Checkins
	}
}

func sortClusters(cs []*cluster) {
	slices.SortStableFunc(cs, func(a, b *cluster) int {
		return cmp.Or(cmp.Compare(b.released, a.released), cmp.Compare(b.suppressed, a.suppressed),
			cmp.Compare(a.box.minLat, b.box.minLat), cmp.Compare(a.box.minLng, b.box.minLng))
	})
}

// projection is equirectangular, x scaled by the cosine of the middle latitude of the
// extent, fitted into a viewBox of at most maxW × maxH pixels.
type projection struct {
	box        bbox
	kx, s      float64
	padX, padY float64
	W, H       float64
}

func fit(box bbox, maxW, maxH, minH float64) projection {
	const pad = 8
	pr := projection{box: box, kx: math.Cos((box.minLat + box.maxLat) / 2 * math.Pi / 180)}
	dx := max((box.maxLng-box.minLng)*pr.kx, 1e-6)
	dy := max(box.maxLat-box.minLat, 1e-6)
	pr.s = min((maxW-2*pad)/dx, (maxH-2*pad)/dy)
	pr.W = maxW
	pr.H = max(dy*pr.s+2*pad, minH)
	pr.padX = (maxW - dx*pr.s) / 2
	pr.padY = (pr.H - dy*pr.s) / 2
	return pr
}

func (pr *projection) xy(p geo.Point) (float64, float64) {
	return pr.padX + (p.Lng-pr.box.minLng)*pr.kx*pr.s, pr.padY + (pr.box.maxLat-p.Lat)*pr.s
}

func (pr *projection) points(ring []geo.Point) string {
	var b []byte
	for i, p := range ring {
		if i > 0 {
			b = append(b, ' ')
		}
		x, y := pr.xy(p)
		b = strconv.AppendFloat(b, x, 'f', 1, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, y, 'f', 1, 64)
	}
	return string(b)
}

func (a rect) overlaps(b rect) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }

func (pr *projection) rect(b bbox) rect {
	x0, y0 := pr.xy(geo.Point{Lat: b.maxLat, Lng: b.minLng})
	x1, y1 := pr.xy(geo.Point{Lat: b.minLat, Lng: b.maxLng})
	return rect{x0, y0, x1, y1}
}

// labelWidth is about how wide a suppressed label is drawn (12 px bold).
func labelWidth(text string) float64 { return 7.2 * float64(len([]rune(text))) }

// labelRect is the box of a label centred at x on the baseline y.
func labelRect(x, y, w float64) rect { return rect{x - w/2, y - 11, x + w/2, y + 4} }

// labelSpot places a suppressed cell's label: at the first of the cell's centre and
// points halfway, then three quarters, from it to each corner where the label is inside
// the map (clear of the scale bar and the north arrow) and covers no released cell and
// no label already placed; the densest released cells often sit right at the centre, and
// a label over them hides what the map is for. When no spot is clear, the centre, over
// the cells (the label's white halo keeps it readable); ok is false when not even the
// centre is on the map. Every spot is a point of the partition cell, chosen from where
// released cells are: the label tells nothing finer than the volume it counts.
func labelSpot(pr *projection, it *mapItem, w float64, cells, taken []rect) (x, y float64, ok bool) {
	b := it.box
	cx, cy := pr.xy(geo.Point{Lat: (b.minLat + b.maxLat) / 2, Lng: (b.minLng + b.maxLng) / 2})
	onMap := func(x, y float64) bool { return x-w/2 >= 4 && x+w/2 <= pr.W-28 && y >= 16 && y <= pr.H-34 }
	clear := func(x, y float64) bool {
		r := labelRect(x, y, w)
		return !slices.ContainsFunc(cells, r.overlaps) && !slices.ContainsFunc(taken, r.overlaps)
	}
	spots := [][2]float64{{cx, cy}}
	for _, f := range []float64{0.5, 0.75} {
		for _, p := range it.ring {
			px, py := pr.xy(p)
			spots = append(spots, [2]float64{cx + f*(px-cx), cy + f*(py-cy)})
		}
	}
	for _, s := range spots {
		if onMap(s[0], s[1]) && clear(s[0], s[1]) {
			return s[0], s[1], true
		}
	}
	return cx, cy, onMap(cx, cy)
}

// shapeView is one polygon of a map.
type shapeView struct {
	Points string
	Fill   string
	Class  string
	Stroke string
	Title  string
}

// geoPaths is the geography of one map, as SVG path data: land and lakes filled, their
// outlines (coast, shores), country borders and the reviewer's own layer stroked.
type geoPaths struct {
	Land, Lakes, Coast, Shores, Borders, User string
}

// scaleBar is a bar of a round length on a map: from X to X+W at Y, labelled.
type scaleBar struct {
	X, Y, W, Mid, Label string
	BgX, BgY, BgW       string
}

// mapView is one map of one area.
type mapView struct {
	Title    string
	W, H     string // viewBox size
	Geo      geoPaths
	Hatch    []shapeView // suppressed volume, hatched under the released cells
	Released []shapeView
	Outline  []shapeView // the same suppressed cells, outlined over everything
	Labels   []labelView // suppressed check-ins of the largest suppressed cells
	Scale    scaleBar
	NorthX   string
	Cells    int  // released cells drawn
	Big      bool // the largest area's map, drawn large; the others are small
}

// dotView is a partition cell on the overview map.
type dotView struct {
	X, Y, R string
	Title   string
}

// overview is a world map of where the volume is, with the areas drawn as maps. Its
// geography is the same for every partner: the page holds it once (page.World).
type overview struct {
	W, H       string
	Graticule  []string // SVG path data
	Released   []dotView
	Suppressed []dotView
	Labels     []labelView
	Ticks      []labelView // graticule degrees
	Scale      scaleBar
	NorthX     string
}

type labelView struct {
	X, Y, Text string
}

// partnerMaps is everything drawn for one partner.
type partnerMaps struct {
	Maps           []mapView
	Overview       *overview
	Note           string
	ReleasedCells  int
	SuppressedCell int
}

// geography is what the maps are drawn on: the embedded Natural Earth layers and the
// reviewer's own (nil without --basemap).
type geography struct {
	land, lakes, borders, user *basemap.Layer
}

func (g *geography) paths(v *geoView) geoPaths {
	return geoPaths{Land: v.fill(g.land), Lakes: v.fill(g.lakes), Coast: v.stroke(g.land), Shores: v.stroke(g.lakes),
		Borders: v.stroke(g.borders), User: v.stroke(g.user)}
}

// mapScales are the colour classes of every partner's maps: one legend for all.
type mapScales struct {
	released   classScale // released check-ins per km² of the cell, summed over windows
	suppressed classScale // suppressed check-ins per partition cell
	Legend     []legendBin
	SuppLegend []legendBin
}

// releasedClasses and suppressedClasses bound the legend.
const releasedClasses, suppressedClasses = 7, suppressedLevels

// newMapScales makes the classes from the quantiles of every partner's cells: the
// density of released cells (check-ins / km², so that cells of different resolutions
// compare) and the volume of suppressed partition cells.
func newMapScales(partners []*PartnerReport) (*mapScales, error) {
	var rel, sup []float64
	for _, pr := range partners {
		for _, cc := range pr.Cells {
			d, err := density(cc)
			if err != nil {
				return nil, err
			}
			rel = append(rel, d)
		}
		for _, cc := range pr.Suppressed {
			sup = append(sup, float64(cc.Checkins))
		}
	}
	sc := &mapScales{released: quantileScale(rel, releasedClasses), suppressed: quantileScale(sup, suppressedClasses)}
	sc.Legend = sc.released.legend(sc.released.color)
	sc.SuppLegend = sc.suppressed.legend(func(i int) string { return fmt.Sprintf("url(#hatch%d)", sc.suppressed.hatch(i)) })
	return sc, nil
}

func density(cc CellCount) (float64, error) {
	a, err := cc.Cell.AreaKm2()
	if err != nil {
		return 0, fmt.Errorf("area of %s: %w", cc.Cell, err)
	}
	return float64(cc.Checkins) / a, nil
}

// maxAreaMaps bounds the maps drawn per partner: the largest area, and the next ones
// as smaller maps.
const maxAreaMaps = 5

// maxSuppressedLabels bounds the suppressed volumes written on one map (the largest).
const maxSuppressedLabels = 6

func buildMaps(pr *PartnerReport, partitionRes int, sc *mapScales, g *geography) (*partnerMaps, error) {
	var items []mapItem
	for _, cc := range pr.Cells {
		it, err := newMapItem(cc, true)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	for _, cc := range pr.Suppressed {
		it, err := newMapItem(cc, false)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	pm := &partnerMaps{ReleasedCells: len(pr.Cells), SuppressedCell: len(pr.Suppressed)}
	if len(items) == 0 {
		pm.Note = "Nothing reached a window for this partner: there is nothing to draw."
		return pm, nil
	}
	areas := clusters(items)
	drawn := min(len(areas), maxAreaMaps)
	// draw maps the items of c into a view fitted to box.
	draw := func(c *cluster, box bbox, maxW, maxH, minH float64, title func(kx float64) string) (mapView, error) {
		proj := fit(box, maxW, maxH, minH)
		mv := mapView{W: fixed(proj.W, 0), H: fixed(proj.H, 0), Title: title(proj.kx)}
		mv.Geo = g.paths(proj.view())
		mv.Scale = newScaleBar(proj.s/kmPerDegLat, proj.W, proj.H, "")
		mv.NorthX = fixed(proj.W-20, 0)
		var rel, sup []int
		for _, i := range c.items {
			if items[i].released {
				rel = append(rel, i)
			} else {
				sup = append(sup, i)
			}
		}
		// Coarse cells first, so that finer ones are drawn over them.
		slices.SortFunc(rel, func(x, y int) int {
			a, b := items[x].cc.Cell, items[y].cc.Cell
			return cmp.Or(cmp.Compare(a.Res(), b.Res()), cmp.Compare(a, b))
		})
		slices.SortFunc(sup, func(x, y int) int { return cmp.Compare(items[x].cc.Cell, items[y].cc.Cell) })
		for _, i := range sup {
			it := &items[i]
			title := fmt.Sprintf("%s check-ins suppressed (below_k, contribution_cap, sensitive_category) in this resolution-%d cell",
				Thousands(int64(it.cc.Checkins)), partitionRes)
			pts := proj.points(it.ring)
			mv.Hatch = append(mv.Hatch, shapeView{Points: pts, Fill: fmt.Sprintf("url(#hatch%d)", sc.suppressed.hatch(sc.suppressed.class(float64(it.cc.Checkins)))), Title: title})
			mv.Outline = append(mv.Outline, shapeView{Points: pts, Title: title})
		}
		for _, i := range rel {
			it := &items[i]
			d, err := density(it.cc)
			if err != nil {
				return mv, err
			}
			fill := sc.released.color(sc.released.class(d))
			// A white edge tells neighbours of one colour apart; a cell a few pixels
			// wide keeps a wider edge of its own colour, so that it stays visible.
			stroke, class := "#ffffff", ""
			if (it.box.maxLng-it.box.minLng)*proj.kx*proj.s < 8 {
				stroke, class = fill, " tiny"
			}
			mv.Released = append(mv.Released, shapeView{
				Points: proj.points(it.ring),
				Fill:   fill,
				Class:  class,
				Stroke: stroke,
				Title: fmt.Sprintf("cell %s, res %d: %s check-ins released in %s windows (%s per km²)",
					it.cc.Cell, it.cc.Cell.Res(), Thousands(int64(it.cc.Checkins)), Thousands(int64(it.cc.Windows)), sigText(roundSig(d, 2))),
			})
		}
		mv.Cells = len(mv.Released)
		// The largest suppressed volumes, written in their cell: hatching alone does not
		// say how much.
		slices.SortStableFunc(sup, func(x, y int) int { return cmp.Compare(items[y].cc.Checkins, items[x].cc.Checkins) })
		var cells, taken []rect
		for _, i := range rel {
			cells = append(cells, proj.rect(items[i].box))
		}
		for _, i := range sup {
			if len(mv.Labels) == maxSuppressedLabels {
				break
			}
			text := Thousands(int64(items[i].cc.Checkins)) + " suppressed"
			x, y, ok := labelSpot(&proj, &items[i], labelWidth(text), cells, taken)
			if !ok {
				continue
			}
			taken = append(taken, labelRect(x, y, labelWidth(text)))
			mv.Labels = append(mv.Labels, labelView{X: fixed(x, 1), Y: fixed(y, 1), Text: text})
		}
		return mv, nil
	}
	for a := range drawn {
		c := &areas[a]
		maxW, maxH, minH := 860.0, 600.0, 260.0
		if a > 0 {
			maxW, maxH, minH = 420.0, 320.0, 160.0
		}
		lat, lng := (c.box.minLat+c.box.maxLat)/2, (c.box.minLng+c.box.maxLng)/2
		mv, err := draw(c, c.box, maxW, maxH, minH, func(kx float64) string {
			return fmt.Sprintf("Area %d, around %s: %s check-ins released, %s suppressed (%s)",
				a+1, latLngText(lat, lng), Thousands(int64(c.released)), Thousands(int64(c.suppressed)), extentText(c.box, kx))
		})
		if err != nil {
			return nil, err
		}
		mv.Big = a == 0
		pm.Maps = append(pm.Maps, mv)
		if a > 0 {
			continue
		}
		// When the suppressed partition cells make the largest area much wider than
		// what is released in it, a second map shows the released cells up close.
		rel := emptyBox()
		for _, i := range c.items {
			if items[i].released {
				rel.union(items[i].box)
			}
		}
		if !math.IsInf(rel.minLat, 1) && rel.maxLat-rel.minLat < 0.5*(c.box.maxLat-c.box.minLat) &&
			rel.maxLng-rel.minLng < 0.5*(c.box.maxLng-c.box.minLng) {
			mv, err := draw(c, rel, 420, 420, 160, func(kx float64) string {
				return fmt.Sprintf("Area 1, detail: the released cells up close (%s)", extentText(rel, kx))
			})
			if err != nil {
				return nil, err
			}
			pm.Maps = append(pm.Maps, mv)
		}
	}
	inAreas := make([]bool, len(items))
	for _, c := range areas[:drawn] {
		for _, i := range c.items {
			inAreas[i] = true
		}
	}
	var relOut, supOut int
	for i := range items {
		if !inAreas[i] {
			if items[i].released {
				relOut += items[i].cc.Checkins
			} else {
				supOut += items[i].cc.Checkins
			}
		}
	}
	if relOut+supOut > 0 || len(areas) > 1 {
		pm.Overview = buildOverview(items, areas[:drawn], partitionRes)
		pm.Note = fmt.Sprintf("The data span %d areas; the %d largest are drawn above. Outside them: %s released and %s suppressed check-ins, shown only on the overview.",
			len(areas), drawn, Thousands(int64(relOut)), Thousands(int64(supOut)))
	}
	return pm, nil
}

// kmPerDegLat is the length of a degree of latitude, km (its mean on the WGS 84
// ellipsoid); a degree of longitude is as long times the cosine of the latitude.
const kmPerDegLat = 111.0

// view is the geography window of a map: what it shows, in degrees and pixels.
func (pr *projection) view() *geoView {
	v := &geoView{
		project: func(p basemap.Point) xy { x, y := pr.xy(geo.Point{Lat: p.Lat, Lng: p.Lng}); return xy{x, y} },
		box: basemap.Box{MinLng: pr.box.minLng - pr.padX/(pr.kx*pr.s), MaxLng: pr.box.minLng + (pr.W-pr.padX)/(pr.kx*pr.s),
			MinLat: pr.box.maxLat - (pr.H-pr.padY)/pr.s, MaxLat: pr.box.maxLat + pr.padY/pr.s},
		clip:    rect{-2, -2, pr.W + 2, pr.H + 2},
		tol:     0.7,
		minSize: 0.7,
	}
	return v
}

// newScaleBar picks the longest round length (1, 2 or 5 times a power of ten, from 1 m)
// that fits in about a fifth of the map's width, and places it at the bottom left.
func newScaleBar(pxPerKm, w, h float64, suffix string) scaleBar {
	limit := min(150, 0.22*w)
	km := 0.001
	for _, m := range []float64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000} {
		for _, s := range []float64{1, 2, 5} {
			if l := s * m / 1000; l*pxPerKm <= limit {
				km = l
			}
		}
	}
	label := Thousands(int64(math.Round(km))) + " km"
	if km < 1 {
		label = strconv.Itoa(int(math.Round(km*1000))) + " m"
	}
	label += suffix
	bw := km * pxPerKm
	x, y := 14.0, h-12
	textW := 6.6 * float64(len([]rune(label)))
	return scaleBar{X: fixed(x, 1), Y: fixed(y, 1), W: fixed(bw, 1), Mid: fixed(x+bw/2, 1), Label: label,
		BgX: fixed(x-6, 1), BgY: fixed(y-20, 1), BgW: fixed(max(bw, textW)+12, 1)}
}

// buildOverview draws the world (equirectangular) with one dot per cell at partition
// resolution: released volume filled, suppressed volume as rings, and the numbers of
// the areas drawn as maps. Its geography is the page's world (worldView).
func buildOverview(items []mapItem, areas []cluster, partitionRes int) *overview {
	const w, h = overviewW, overviewH
	xy := func(lat, lng float64) (float64, float64) {
		for lng > 180 {
			lng -= 360
		}
		return (lng + 180) / 360 * w, (90 - lat) / 180 * h
	}
	ov := &overview{W: fixed(w, 0), H: fixed(h, 0), NorthX: fixed(w-20, 0)}
	// Above the row of longitude labels.
	ov.Scale = newScaleBar(w/360/kmPerDegLat, w, h-16, " at the equator")
	for lng := -180; lng <= 180; lng += 30 {
		x, _ := xy(0, float64(lng))
		ov.Graticule = append(ov.Graticule, fmt.Sprintf("M%s,0V%s", fixed(x, 1), fixed(h, 0)))
	}
	for lat := -90; lat <= 90; lat += 30 {
		_, y := xy(float64(lat), 0)
		ov.Graticule = append(ov.Graticule, fmt.Sprintf("M0,%sH%s", fixed(y, 1), fixed(w, 0)))
		if lat > -90 && lat < 90 {
			ov.Ticks = append(ov.Ticks, labelView{X: "3", Y: fixed(y-3, 1), Text: degreeText(lat, "N", "S")})
		}
	}
	for lng := -120; lng <= 120; lng += 60 {
		x, _ := xy(0, float64(lng))
		ov.Ticks = append(ov.Ticks, labelView{X: fixed(x+3, 1), Y: fixed(h-4, 0), Text: degreeText(lng, "E", "W")})
	}
	rel := make(map[geo.Cell]int)
	sup := make(map[geo.Cell]int)
	for _, it := range items {
		pc := it.cc.Cell.Parent(partitionRes)
		if it.released {
			rel[pc] += it.cc.Checkins
		} else {
			sup[pc] += it.cc.Checkins
		}
	}
	dots := func(m map[geo.Cell]int, what string) []dotView {
		cells := make([]geo.Cell, 0, len(m))
		maxN := 1
		for c, n := range m {
			cells = append(cells, c)
			maxN = max(maxN, n)
		}
		slices.Sort(cells)
		var out []dotView
		for _, c := range cells {
			p, err := c.Center()
			if err != nil {
				continue
			}
			x, y := xy(p.Lat, p.Lng)
			r := 1.5 + 10*math.Sqrt(float64(m[c])/float64(maxN))
			out = append(out, dotView{X: fixed(x, 1), Y: fixed(y, 1), R: fixed(r, 1),
				Title: fmt.Sprintf("%s check-ins %s in this resolution-%d cell", Thousands(int64(m[c])), what, partitionRes)})
		}
		return out
	}
	ov.Suppressed = dots(sup, "suppressed")
	ov.Released = dots(rel, "released")
	for i, c := range areas {
		x, y := xy(c.box.maxLat, c.box.maxLng)
		ov.Labels = append(ov.Labels, labelView{X: fixed(x+4, 1), Y: fixed(y+4, 1), Text: strconv.Itoa(i + 1)})
	}
	return ov
}

const overviewW, overviewH = 860.0, 430.0

// worldView is the overview's geography window: the whole world, equirectangular.
func worldView() *geoView {
	return &geoView{
		project: func(p basemap.Point) xy { return xy{(p.Lng + 180) / 360 * overviewW, (90 - p.Lat) / 180 * overviewH} },
		box:     basemap.Box{MinLng: -180, MinLat: -90, MaxLng: 180, MaxLat: 90},
		clip:    rect{0, 0, overviewW, overviewH},
		tol:     1.5,
		minSize: 2.5,
	}
}
func degreeText(d int, pos, neg string) string {
	switch {
	case d > 0:
		return strconv.Itoa(d) + "°" + pos
	case d < 0:
		return strconv.Itoa(-d) + "°" + neg
	}
	return "0°"
}

// extentText is the size of a box in km, "W × H km".
func extentText(b bbox, kx float64) string {
	return fixed((b.maxLng-b.minLng)*111.32*kx, 0) + " × " + fixed((b.maxLat-b.minLat)*110.57, 0) + " km"
}

// latLngText writes a position rounded to 0.1°, to name an area, never a place.
func latLngText(lat, lng float64) string {
	ns, ew := "N", "E"
	if lat < 0 {
		ns, lat = "S", -lat
	}
	for lng > 180 {
		lng -= 360
	}
	if lng < 0 {
		ew, lng = "W", -lng
	}
	return fixed(lat, 1) + "°" + ns + " " + fixed(lng, 1) + "°" + ew
}
