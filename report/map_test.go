package report

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/report/basemap"
)

func TestQuantileScale(t *testing.T) {
	var v []float64
	for i := 1; i <= 100; i++ {
		v = append(v, float64(i))
	}
	s := quantileScale(v, 4)
	// The quartiles are 25, 50 and 75, each in the class below its edge.
	if !slices.Equal(s.edges, []float64{26, 51, 76}) {
		t.Fatalf("edges %v, want [26 51 76]", s.edges)
	}
	for x, want := range map[float64]int{1: 0, 25: 0, 26: 1, 50: 1, 51: 2, 76: 3, 100: 3} {
		if got := s.class(x); got != want {
			t.Errorf("class(%v) = %d, want %d", x, got, want)
		}
	}
	labels := []string{}
	for _, b := range s.legend(s.color) {
		labels = append(labels, b.Label)
	}
	if want := []string{"< 26", "26–51", "51–76", "≥ 76"}; !slices.Equal(labels, want) {
		t.Errorf("legend %q, want %q", labels, want)
	}
	// Equal shares: about a quarter of the values per class.
	counts := make([]int, s.Classes())
	for _, x := range v {
		counts[s.class(x)]++
	}
	for i, n := range counts {
		if n < 20 || n > 30 {
			t.Errorf("class %d holds %d of 100 values", i, n)
		}
	}
	// Ties collapse classes; one value is one class.
	if s := quantileScale([]float64{5, 5, 5, 5, 5, 5, 5, 9}, 4); s.Classes() != 2 || s.class(5) != 0 || s.class(9) != 1 {
		t.Errorf("ties: edges %v", s.edges)
	}
	if s := quantileScale([]float64{3, 3}, 7); s.Classes() != 1 || s.legend(s.color)[0].Label != "all" {
		t.Errorf("one value: edges %v", s.edges)
	}
	// Edges are rounded to two significant digits, and read without float noise.
	s = quantileScale([]float64{0.01234, 0.5, 1.234, 12345, 99999}, 5)
	if !slices.Equal(s.edges, []float64{0.013, 0.51, 1.3, 13000}) {
		t.Errorf("rounded edges %v", s.edges)
	}
	for x, want := range map[float64]float64{5: 5.1, 10: 11, 0.01234: 0.013, 99: 100, 100: 110, 0.001: 0.0011} {
		if got := sigAbove(x); math.Abs(got-want) > 1e-12 {
			t.Errorf("sigAbove(%v) = %v, want %v", x, got, want)
		}
	}
	for x, want := range map[float64]string{0.012: "0.012", 0.5: "0.50", 1.2: "1.2", 14: "14", 12000: "12,000", 0.3 * 3: "0.90"} {
		if got := sigText(roundSig(x, 2)); got != want {
			t.Errorf("sigText(%v) = %q, want %q", x, got, want)
		}
	}
	// Colours run from the lightest to the darkest whatever the number of classes.
	for n := 2; n <= releasedClasses; n++ {
		sc := classScale{edges: make([]float64, n-1)}
		if sc.color(0) != releasedPalette[0] || sc.color(n-1) != releasedPalette[len(releasedPalette)-1] {
			t.Errorf("%d classes: colours %s..%s", n, sc.color(0), sc.color(n-1))
		}
		if sc.hatch(0) != 0 || sc.hatch(n-1) != suppressedLevels-1 {
			t.Errorf("%d classes: hatching %d..%d", n, sc.hatch(0), sc.hatch(n-1))
		}
	}
}

func TestClipPolygon(t *testing.T) {
	r := rect{0, 0, 10, 10}
	// A square half outside: the part inside is [5,10]×[0,10] (area 50).
	got := clipPolygon([]xy{{5, -5}, {15, -5}, {15, 15}, {5, 15}}, r)
	if a := area(got); math.Abs(a-50) > 1e-9 {
		t.Errorf("clipped area %v, want 50: %v", a, got)
	}
	for _, p := range got {
		if p.x < r.x0 || p.x > r.x1 || p.y < r.y0 || p.y > r.y1 {
			t.Errorf("point %v outside the window", p)
		}
	}
	// A ring around the whole window covers it.
	if a := area(clipPolygon([]xy{{-5, -5}, {20, -5}, {20, 20}, {-5, 20}}, r)); math.Abs(a-100) > 1e-9 {
		t.Errorf("surrounding ring: area %v, want 100", a)
	}
	if got := clipPolygon([]xy{{20, 20}, {30, 20}, {30, 30}}, r); len(got) != 0 {
		t.Errorf("ring outside: %v", got)
	}
	// A concave ring (a U) keeps its area inside.
	u := []xy{{1, 1}, {9, 1}, {9, 9}, {7, 9}, {7, 3}, {3, 3}, {3, 9}, {1, 9}}
	if a, b := area(clipPolygon(u, r)), area(u); math.Abs(a-b) > 1e-9 {
		t.Errorf("concave ring inside: area %v, want %v", a, b)
	}
}

func TestClipLine(t *testing.T) {
	r := rect{0, 0, 10, 10}
	// In, out, and in again: two parts.
	parts := clipLine([]xy{{-5, 5}, {5, 5}, {5, 20}, {8, 20}, {8, 5}}, r)
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2: %v", len(parts), parts)
	}
	if want := []xy{{0, 5}, {5, 5}, {5, 10}}; !slices.Equal(parts[0], want) {
		t.Errorf("first part %v, want %v", parts[0], want)
	}
	if want := []xy{{8, 10}, {8, 5}}; !slices.Equal(parts[1], want) {
		t.Errorf("second part %v, want %v", parts[1], want)
	}
	if parts := clipLine([]xy{{-5, -5}, {-1, 20}}, r); len(parts) != 0 {
		t.Errorf("line outside: %v", parts)
	}
}

func TestDecimate(t *testing.T) {
	var pts []xy
	for i := range 101 {
		pts = append(pts, xy{float64(i) / 10, 0})
	}
	got := decimate(pts, 1)
	if len(got) != 11 || got[0] != pts[0] || got[len(got)-1] != pts[100] {
		t.Errorf("decimated to %d points: %v", len(got), got)
	}
}

// A map's geography: the view of a map around San Francisco holds coast (the bay) and
// no border; one straddling the US–Canada border holds a border; a user layer is drawn
// where it is and not elsewhere.
func TestGeoView(t *testing.T) {
	world, err := basemap.World()
	if err != nil {
		t.Fatal(err)
	}
	g := &geography{land: world[0], lakes: world[1], borders: world[2]}
	view := func(minLat, maxLat, minLng, maxLng float64) *geoView {
		pr := fit(bbox{minLat, maxLat, minLng, maxLng}, 860, 600, 260)
		return pr.view()
	}
	sf := g.paths(view(37.6, 37.9, -122.55, -122.2))
	if sf.Land == "" || sf.Coast == "" || sf.Borders != "" {
		t.Errorf("San Francisco: land %d, coast %d, borders %d bytes of path", len(sf.Land), len(sf.Coast), len(sf.Borders))
	}
	border := g.paths(view(48.8, 49.2, -123.2, -122.6))
	if border.Borders == "" {
		t.Error("no US–Canada border near Vancouver")
	}
	lyon := g.paths(view(45.6, 45.9, 4.7, 5.0))
	if lyon.Land == "" || lyon.Coast != "" {
		t.Errorf("Lyon: land %d bytes, coast %q", len(lyon.Land), lyon.Coast)
	}
	// Every point of a path stays in the window (the clip margin is 2 px).
	for _, d := range []string{sf.Land, sf.Coast, border.Borders} {
		for _, ring := range parsePath(t, d) {
			for _, p := range ring {
				if p.x < -2.05 || p.x > 862.05 || p.y < -2.05 || p.y > 602.05 {
					t.Fatalf("point %v out of the view", p)
				}
			}
		}
	}
	// The world: no line across it (rings crossing the antimeridian are unwrapped and
	// drawn on both sides), except along the map's own edges (the poles, the clip).
	w := g.paths(worldView())
	for _, d := range []string{w.Land, w.Coast, w.Borders, w.Lakes} {
		for _, ring := range parsePath(t, d) {
			for i := 1; i < len(ring); i++ {
				a, b := ring[i-1], ring[i]
				edge := (a.y < 0.1 && b.y < 0.1) || (a.y > overviewH-0.1 && b.y > overviewH-0.1)
				if math.Abs(b.x-a.x) > overviewW/2 && !edge {
					t.Fatalf("a segment from %v to %v crosses the world", a, b)
				}
			}
		}
	}
	user, err := basemap.ReadGeoJSON(strings.NewReader(`{"type":"LineString","coordinates":[[4.80,45.70],[4.90,45.80]]}`), "roads")
	if err != nil {
		t.Fatal(err)
	}
	g.user = user
	if p := g.paths(view(45.6, 45.9, 4.7, 5.0)); p.User == "" {
		t.Error("user layer not drawn over Lyon")
	}
	if p := g.paths(view(37.6, 37.9, -122.55, -122.2)); p.User != "" {
		t.Errorf("user layer drawn over San Francisco: %q", p.User)
	}
}

func TestScaleBar(t *testing.T) {
	for _, tc := range []struct {
		pxPerKm, w float64
		label      string
	}{
		{28, 860, "5 km"}, {2.8, 860, "50 km"}, {300, 420, "200 m"}, {0.0215, 860, "5,000 km"}, {1000, 860, "100 m"},
	} {
		b := newScaleBar(tc.pxPerKm, tc.w, 400, "")
		if b.Label != tc.label {
			t.Errorf("%v px/km, %v px wide: %q, want %q", tc.pxPerKm, tc.w, b.Label, tc.label)
		}
		if w := mustFloat(t, b.W); w > 0.22*tc.w+0.1 || w < 0.04*tc.w {
			t.Errorf("%v px/km: bar %v px in a map %v px wide", tc.pxPerKm, w, tc.w)
		}
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// parsePath reads back what pathBuilder writes: rings of "Mx,y" then "ldx,dy dx,dy ...".
func parsePath(t *testing.T, d string) [][]xy {
	t.Helper()
	var out [][]xy
	for _, ring := range strings.Split(d, "M")[1:] {
		ring = strings.TrimSuffix(ring, "z")
		start, steps, _ := strings.Cut(ring, "l")
		xy0 := strings.Split(start, ",")
		p := xy{mustFloat(t, xy0[0]), mustFloat(t, xy0[1])}
		pts := []xy{p}
		for _, s := range strings.Fields(steps) {
			d := strings.Split(s, ",")
			p = xy{p.x + mustFloat(t, d[0]), p.y + mustFloat(t, d[1])}
			pts = append(pts, p)
		}
		out = append(out, pts)
	}
	return out
}

func TestPathBuilder(t *testing.T) {
	var pb pathBuilder
	pb.ring([]xy{{10.04, 20}, {11.26, 19.2}, {11.3, 19.2}, {5, 25.05}}, true)
	pb.ring([]xy{{0, 0}, {-1.5, 0.25}}, false)
	if got, want := pb.String(), "M10,20l1.3,-0.8 0,0 -6.3,5.9zM0,0l-1.5,0.3"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	rings := parsePath(t, pb.String())
	if len(rings) != 2 || math.Abs(rings[0][3].x-5) > 1e-9 || math.Abs(rings[0][3].y-25.1) > 1e-9 {
		t.Errorf("read back %v", rings)
	}
}

// A suppressed volume's label is written in its partition cell where it covers no
// released cell: the busiest released cells are often at the partition cell's centre.
func TestSuppressedLabelClearOfCells(t *testing.T) {
	lyon, err := geo.NewPoint(45.76, 4.84)
	if err != nil {
		t.Fatal(err)
	}
	fine, err := geo.CellOf(lyon, 15)
	if err != nil {
		t.Fatal(err)
	}
	part := fine.Parent(4)
	centre, err := part.Center()
	if err != nil {
		t.Fatal(err)
	}
	// Released cells at resolution 6 around the partition cell's centre, and one far off
	// so that the map is wider than the partition cell.
	pr := &PartnerReport{Suppressed: []CellCount{{Cell: part, Checkins: 6719}}}
	for _, d := range [][2]float64{{0, 0}, {0.08, 0}, {-0.08, 0}, {0, 0.1}, {0, -0.1}, {0.6, 0.9}} {
		p, err := geo.NewPoint(centre.Lat+d[0], centre.Lng+d[1])
		if err != nil {
			t.Fatal(err)
		}
		c, err := geo.CellOf(p, 6)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(pr.Cells, func(cc CellCount) bool { return cc.Cell == c }) {
			pr.Cells = append(pr.Cells, CellCount{Cell: c, Checkins: 500, Classes: 1, Windows: 1})
		}
	}
	slices.SortFunc(pr.Cells, func(a, b CellCount) int { return cmp.Compare(a.Cell, b.Cell) })
	sc, err := newMapScales([]*PartnerReport{pr})
	if err != nil {
		t.Fatal(err)
	}
	world, err := basemap.World()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := buildMaps(pr, 4, sc, &geography{land: world[0], lakes: world[1], borders: world[2]})
	if err != nil {
		t.Fatal(err)
	}
	m := pm.Maps[0]
	if len(m.Labels) != 1 || m.Labels[0].Text != "6,719 suppressed" {
		t.Fatalf("labels %+v, want one for 6,719 suppressed", m.Labels)
	}
	l := m.Labels[0]
	x, y := mustFloat(t, l.X), mustFloat(t, l.Y)
	label := labelRect(x, y, labelWidth(l.Text))
	for _, cell := range m.Released {
		if r := pointsRect(t, cell.Points); r.overlaps(label) {
			t.Errorf("label %+v at %.0f,%.0f covers the released cell %s", label, x, y, cell.Points)
		}
	}
	w, h := mustFloat(t, m.W), mustFloat(t, m.H)
	if label.x0 < 0 || label.x1 > w || label.y0 < 0 || label.y1 > h {
		t.Errorf("label %+v outside the %gx%g map", label, w, h)
	}
	if in := pointsRect(t, m.Outline[0].Points); x < in.x0 || x > in.x1 || y < in.y0 || y > in.y1 {
		t.Errorf("label at %.0f,%.0f outside its partition cell %+v", x, y, in)
	}
}

// pointsRect is the box of an SVG polygon's points.
func pointsRect(t *testing.T, points string) rect {
	t.Helper()
	r := rect{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, p := range strings.Fields(points) {
		x, y, _ := strings.Cut(p, ",")
		px, py := mustFloat(t, x), mustFloat(t, y)
		r = rect{min(r.x0, px), min(r.y0, py), max(r.x1, px), max(r.y1, py)}
	}
	return r
}
