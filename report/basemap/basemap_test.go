package basemap

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

// inside reports whether p is inside the polygon item (even-odd over its rings).
func inside(it *Item, p Point) bool {
	in := false
	for _, r := range it.Rings {
		for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
			a, b := r[i], r[j]
			if (a.Lat > p.Lat) != (b.Lat > p.Lat) && p.Lng < (b.Lng-a.Lng)*(p.Lat-a.Lat)/(b.Lat-a.Lat)+a.Lng {
				in = !in
			}
		}
	}
	return in
}

func covered(l *Layer, p Point) bool {
	for i := range l.Items {
		if it := &l.Items[i]; p.Lng >= it.Box.MinLng && p.Lng <= it.Box.MaxLng && p.Lat >= it.Box.MinLat && p.Lat <= it.Box.MaxLat && inside(it, p) {
			return true
		}
	}
	return false
}

// The embedded map is Natural Earth: land where there is land, water where there is
// water, lakes and borders where they are; and it stays small.
func TestWorld(t *testing.T) {
	ls, err := World()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 3 || ls[0].Name != "land" || ls[1].Name != "lakes" || ls[2].Name != "borders" ||
		ls[0].Kind != Polygons || ls[1].Kind != Polygons || ls[2].Kind != Lines {
		t.Fatalf("layers %v", ls)
	}
	land, lakes, borders := ls[0], ls[1], ls[2]
	for _, tc := range []struct {
		name   string
		p      Point
		layer  *Layer
		inside bool
	}{
		{"Lyon on land", Point{4.84, 45.76}, land, true},
		{"Manhattan on land", Point{-73.97, 40.78}, land, true},
		{"Austin on land", Point{-97.74, 30.27}, land, true},
		{"Tokyo on land", Point{139.69, 35.68}, land, true},
		{"the Atlantic", Point{-40, 40}, land, false},
		{"San Francisco Bay", Point{-122.35, 37.70}, land, false},
		{"Tokyo Bay", Point{139.85, 35.45}, land, false},
		{"Lake Michigan", Point{-87.0, 43.5}, lakes, true},
		{"Lake Geneva", Point{6.55, 46.45}, lakes, true},
		{"Lyon is no lake", Point{4.84, 45.76}, lakes, false},
	} {
		if got := covered(tc.layer, tc.p); got != tc.inside {
			t.Errorf("%s (%v): inside %s = %v", tc.name, tc.p, tc.layer.Name, got)
		}
	}
	// No ring jumps across the world: rings that cross the antimeridian are unwrapped.
	for _, l := range ls {
		for _, it := range l.Items {
			for _, r := range it.Rings {
				for i := 1; i < len(r); i++ {
					if d := r[i].Lng - r[i-1].Lng; (d > 180 || d < -180) && !(math.Abs(r[i].Lat) == 90 && r[i].Lat == r[i-1].Lat) {
						t.Fatalf("%s: a ring jumps %v° of longitude at %v", l.Name, d, r[i])
					}
				}
			}
		}
	}
	if n := land.Points(); n < 300_000 {
		t.Errorf("land has %d points: not the 1:10m data", n)
	}
	// France–Switzerland near Geneva, and the US–Canada border cross a 1° box each.
	for _, b := range []Box{{5.5, 46, 6.5, 47}, {-123, 48.5, -122, 49.5}} {
		if !slices.ContainsFunc(borders.Items, func(it Item) bool { return it.Box.Intersects(b) }) {
			t.Errorf("no border in %v", b)
		}
	}
	if EmbeddedSize() > 2<<20 {
		t.Errorf("embedded base map is %d bytes: keep it well under 2 MB", EmbeddedSize())
	}
}

func TestUnwrap(t *testing.T) {
	// A ring crossing the antimeridian (Fiji-like): continuous past 180°.
	r := unwrapRing([]Point{{179, -17}, {-179, -17}, {-179, -16}, {179, -16}, {179, -17}})
	if r[1].Lng != 181 || r[2].Lng != 181 || r[3].Lng != 179 || len(r) != 5 {
		t.Errorf("unwrapped %v", r)
	}
	// A ring around the south pole: closed along it.
	r = unwrapRing([]Point{{-180, -70}, {0, -65}, {180, -70}, {180, -80}, {-180, -80}})
	if n := len(r); n != 7 || r[4] != (Point{180, -80}) || r[n-2] != (Point{180, -90}) || r[n-1] != (Point{-180, -90}) {
		t.Errorf("polar ring %v", r)
	}
	parts := splitLine([]Point{{170, 0}, {179, 1}, {-179, 2}, {-170, 3}})
	if len(parts) != 2 || len(parts[0]) != 2 || parts[1][0] != (Point{-179, 2}) {
		t.Errorf("split line %v", parts)
	}
}

func TestRoundTrip(t *testing.T) {
	e := Encoded{Layers: []EncodedLayer{
		{Name: "a", Kind: Polygons, Scale: [2]float64{0.5, 0.25}, Translate: [2]float64{-180, -90},
			Items: [][][][2]int64{{{{0, 0}, {10, 0}, {10, 10}}, {{2, 2}, {3, 2}, {3, 3}}}}},
		{Name: "b", Kind: Lines, Scale: [2]float64{1, 1}, Translate: [2]float64{0, 0},
			Items: [][][][2]int64{{{{5, -5}, {-100, 40}}}}},
	}}
	b := e.Marshal()
	if !bytes.Equal(b, e.Marshal()) {
		t.Fatal("Marshal is not deterministic")
	}
	ls, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].Name != "a" || ls[1].Kind != Lines {
		t.Fatalf("layers %+v", ls)
	}
	if got, want := ls[0].Items[0].Rings[0][1], (Point{-175, -90}); got != want {
		t.Errorf("point %v, want %v", got, want)
	}
	if got, want := ls[1].Items[0].Rings[0][1], (Point{-100, 40}); got != want {
		t.Errorf("point %v, want %v", got, want)
	}
	if got, want := ls[0].Items[0].Box, (Box{-180, -90, -175, -87.5}); got != want {
		t.Errorf("box %v, want %v", got, want)
	}
	for n := len(magic); n < len(b); n++ {
		if _, err := Unmarshal(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
		}
	}
	if _, err := Unmarshal(append(b, 0)); err == nil {
		t.Error("trailing byte: no error")
	}
	if _, err := Unmarshal([]byte("GIF89a")); err == nil {
		t.Error("not a base map: no error")
	}
}

func TestReadGeoJSON(t *testing.T) {
	good := []struct {
		name, doc    string
		items, rings int
	}{
		{"collection", `{"type":"FeatureCollection","features":[
			{"type":"Feature","properties":{"name":"A1"},"geometry":{"type":"LineString","coordinates":[[4.8,45.7],[4.9,45.8,170]]}},
			{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[4,45],[5,45],[5,46],[4,45]],[[4.2,45.2],[4.3,45.2],[4.3,45.3],[4.2,45.2]]]}},
			{"type":"Feature","geometry":{"type":"Point","coordinates":[4.8,45.7]}},
			{"type":"Feature","geometry":null}]}`, 2, 3},
		{"feature", `{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]}}`, 1, 2},
		{"geometry", `{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}`, 1, 2},
		{"collection of geometries", `{"type":"GeometryCollection","geometries":[{"type":"LineString","coordinates":[[0,0],[1,1]]},{"type":"Point","coordinates":[0,0]}]}`, 1, 1},
	}
	for _, tc := range good {
		l, err := ReadGeoJSON(strings.NewReader(tc.doc), "roads")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		rings := 0
		for _, it := range l.Items {
			rings += len(it.Rings)
		}
		if l.Name != "roads" || l.Kind != Lines || len(l.Items) != tc.items || rings != tc.rings {
			t.Errorf("%s: %d items, %d rings, want %d, %d", tc.name, len(l.Items), rings, tc.items, tc.rings)
		}
	}
	bad := []struct{ name, doc, want string }{
		{"not json", `roads`, "not GeoJSON"},
		{"no type", `{"features":[]}`, `no "type"`},
		{"only points", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}]}`, "no line or polygon"},
		{"empty collection", `{"type":"FeatureCollection","features":[]}`, "no line or polygon"},
		{"lat lng swapped", `{"type":"LineString","coordinates":[[45.7,4.8],[45.8,104.9]]}`, "is not [longitude, latitude]"},
		{"one position", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2]]}}]}`, "feature 0: LineString: line 0 has 1 positions"},
		{"unknown type", `{"type":"Circle","coordinates":[1,2]}`, `geometry type "Circle"`},
		{"wrong nesting", `{"type":"Polygon","coordinates":[[1,2],[3,4]]}`, "not nested"},
		{"strings", `{"type":"LineString","coordinates":[["1","2"],[3,4]]}`, "want arrays of positions"},
		{"mixed", `{"type":"LineString","coordinates":[[1,"2"],[3,4]]}`, "not a number"},
		{"feature type", `{"type":"FeatureCollection","features":[{"type":"Road"}]}`, `feature 0: type "Road"`},
	}
	for _, tc := range bad {
		_, err := ReadGeoJSON(strings.NewReader(tc.doc), "x")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
