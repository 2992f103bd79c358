package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestNewPoint(t *testing.T) {
	tests := []struct {
		name     string
		lat, lng float64
		want     error
	}{
		{"origin", 0, 0, nil},
		{"corners", 90, 180, nil},
		{"negative corners", -90, -180, nil},
		{"lyon", 45.764, 4.8357, nil},
		{"lat NaN", math.NaN(), 0, ErrNotFinite},
		{"lng NaN", 0, math.NaN(), ErrNotFinite},
		{"lat +Inf", math.Inf(1), 0, ErrNotFinite},
		{"lng -Inf", 0, math.Inf(-1), ErrNotFinite},
		{"lat above 90", 90.0000001, 0, ErrLatRange},
		{"lat below -90", -91, 0, ErrLatRange},
		{"lng above 180", 0, 180.5, ErrLngRange},
		{"lng below -180", 0, -181, ErrLngRange},
		{"swapped lat/lng", 122.4, 37.7, ErrLatRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPoint(tt.lat, tt.lng)
			if !errors.Is(err, tt.want) {
				t.Fatalf("NewPoint(%v, %v) error = %v, want %v", tt.lat, tt.lng, err, tt.want)
			}
			if err == nil && (p.Lat != tt.lat || p.Lng != tt.lng) {
				t.Fatalf("NewPoint(%v, %v) = %+v", tt.lat, tt.lng, p)
			}
		})
	}
}

func randomPoint(r *rand.Rand) Point {
	// Uniform on the sphere, plus the poles and the antimeridian now and then.
	switch r.IntN(20) {
	case 0:
		return Point{Lat: 90 * float64(1-2*r.IntN(2)), Lng: r.Float64()*360 - 180}
	case 1:
		return Point{Lat: r.Float64()*180 - 90, Lng: 180 * float64(1-2*r.IntN(2))}
	}
	return Point{
		Lat: math.Asin(2*r.Float64()-1) * 180 / math.Pi,
		Lng: r.Float64()*360 - 180,
	}
}

// Parent works on index bits; it must agree with H3's cellToParent everywhere, including
// pentagons and the resolution's own cell.
func TestParentMatchesH3(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		p := randomPoint(r)
		res := r.IntN(MaxRes + 1)
		c, err := CellOf(p, res)
		if err != nil {
			t.Fatalf("CellOf(%+v, %d): %v", p, res, err)
		}
		if c.Res() != res {
			t.Fatalf("Res() = %d, want %d", c.Res(), res)
		}
		pr := r.IntN(res + 1)
		want, err := h3.Cell(c).Parent(pr)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Parent(pr); got != Cell(want) {
			t.Fatalf("case %d: %s.Parent(%d) = %s, want %s", i, c, pr, got, Cell(want))
		}
		if got := c.Parent(res); got != c {
			t.Fatalf("%s.Parent(own res) = %s", c, got)
		}
	}
	// Every pentagon at every resolution.
	for res := range MaxRes + 1 {
		pents, err := h3.Pentagons(res)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pents {
			for pr := 0; pr <= res; pr++ {
				want, _ := p.Parent(pr)
				if got := Cell(p).Parent(pr); got != Cell(want) {
					t.Fatalf("pentagon %s.Parent(%d) = %s, want %s", Cell(p), pr, got, Cell(want))
				}
			}
		}
	}
}

func TestAvgAreaMatchesH3(t *testing.T) {
	for res := range MaxRes + 1 {
		want, err := h3.HexagonAreaAvgKm2(res)
		if err != nil {
			t.Fatal(err)
		}
		if got := AvgAreaKm2(res); math.Abs(got-want) > 1e-9*want {
			t.Errorf("AvgAreaKm2(%d) = %g, want %g", res, got, want)
		}
	}
}

func TestCellTextRoundTrip(t *testing.T) {
	c, err := CellOf(Point{Lat: 45.764, Lng: 4.8357}, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.MarshalText()
	var back Cell
	if err := back.UnmarshalText(b); err != nil || back != c {
		t.Fatalf("round trip of %s gave %s, %v", c, back, err)
	}
	for _, bad := range []string{"", "zz", "0", "ffffffffffffffff", "892a100d2b3fff"} {
		if _, err := ParseCell(bad); !errors.Is(err, ErrInvalidCell) {
			t.Errorf("ParseCell(%q) error = %v, want ErrInvalidCell", bad, err)
		}
	}
}

func TestCellOfResolution(t *testing.T) {
	for _, res := range []int{-1, 16} {
		if _, err := CellOf(Point{}, res); !errors.Is(err, ErrResolution) {
			t.Errorf("CellOf(res %d) error = %v, want ErrResolution", res, err)
		}
	}
}

// FuzzPoint: any pair of floats is either rejected by NewPoint or gives a valid cell at
// every resolution, whose parents are valid and nest.
func FuzzPoint(f *testing.F) {
	f.Add(45.764, 4.8357, uint8(9))
	f.Add(90.0, 180.0, uint8(15))
	f.Add(-90.0, -180.0, uint8(0))
	f.Add(math.NaN(), 0.0, uint8(5))
	f.Add(0.0, math.Inf(1), uint8(5))
	f.Add(1e308, -1e308, uint8(3))
	f.Fuzz(func(t *testing.T, lat, lng float64, r uint8) {
		p, err := NewPoint(lat, lng)
		if err != nil {
			if !(math.IsNaN(lat) || math.IsNaN(lng) || math.Abs(lat) > 90 || math.Abs(lng) > 180 ||
				math.IsInf(lat, 0) || math.IsInf(lng, 0)) {
				t.Fatalf("NewPoint(%v, %v) rejected a valid point: %v", lat, lng, err)
			}
			return
		}
		res := int(r) % (MaxRes + 1)
		c, err := CellOf(p, res)
		if err != nil {
			t.Fatalf("CellOf(%+v, %d): %v", p, res, err)
		}
		if !c.Valid() || c.Res() != res {
			t.Fatalf("CellOf(%+v, %d) = %s (valid %v, res %d)", p, res, c, c.Valid(), c.Res())
		}
		for pr := 0; pr <= res; pr++ {
			parent := c.Parent(pr)
			if !parent.Valid() || parent.Res() != pr {
				t.Fatalf("%s.Parent(%d) = %s is not a valid cell at %d", c, pr, parent, pr)
			}
			if pr > 0 && parent.Parent(pr-1) != c.Parent(pr-1) {
				t.Fatalf("parents of %s do not nest at %d", c, pr)
			}
		}
	})
}

var sink Cell

func BenchmarkCellOf(b *testing.B) {
	p := Point{Lat: 45.764, Lng: 4.8357}
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = CellOf(p, 9)
	}
}

func BenchmarkParent(b *testing.B) {
	c, _ := CellOf(Point{Lat: 45.764, Lng: 4.8357}, 9)
	b.ReportAllocs()
	for b.Loop() {
		for res := 9; res >= 5; res-- {
			sink = c.Parent(res)
		}
	}
}

func BenchmarkParentH3(b *testing.B) {
	c, _ := CellOf(Point{Lat: 45.764, Lng: 4.8357}, 9)
	b.ReportAllocs()
	for b.Loop() {
		for res := 9; res >= 5; res-- {
			p, _ := h3.Cell(c).Parent(res)
			sink = Cell(p)
		}
	}
}
