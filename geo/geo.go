// Package geo provides validated points and the H3 cells geocloak releases: the cell of a
// point at a resolution, the ancestor of a cell, and average cell areas.
//
// It is pure: no I/O, no logging, no state; it imports only h3-go and the standard
// library (TestLayout). H3 comes from uber/h3-go (cgo); the hierarchy
// walk (Parent) is done on the index bits in Go because it runs once per event per
// resolution level in the release engine.
package geo

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/uber/h3-go/v4"
)

// MaxRes is the finest H3 resolution.
const MaxRes = 15

// Sentinel errors for errors.Is.
var (
	ErrNotFinite   = errors.New("coordinate is not a finite number")
	ErrLatRange    = errors.New("latitude out of range [-90, 90]")
	ErrLngRange    = errors.New("longitude out of range [-180, 180]")
	ErrResolution  = errors.New("resolution out of range [0, 15]")
	ErrInvalidCell = errors.New("not a valid H3 cell")
)

// Point is a validated WGS 84 position in degrees. The zero Point (0, 0) is valid; build
// Points from untrusted input only through NewPoint.
type Point struct {
	Lat, Lng float64
}

// NewPoint validates a latitude and longitude in degrees. Anything not finite or out of
// range is an error, never a cell: H3 would silently wrap such input to some real place.
func NewPoint(lat, lng float64) (Point, error) {
	if math.IsNaN(lat) || math.IsInf(lat, 0) || math.IsNaN(lng) || math.IsInf(lng, 0) {
		return Point{}, ErrNotFinite
	}
	if lat < -90 || lat > 90 {
		return Point{}, ErrLatRange
	}
	if lng < -180 || lng > 180 {
		return Point{}, ErrLngRange
	}
	return Point{Lat: lat, Lng: lng}, nil
}

// Cell is an H3 cell index.
type Cell uint64

// Bit layout of an H3 cell index (H3 v4): 4 bits of resolution at 52-55, then 15 digits
// of 3 bits each, digit 1 at bits 42-44 down to digit 15 at bits 0-2. Unused digits are 7.
const (
	resShift  = 52
	resMask   = uint64(0xf) << resShift
	digitBits = 3
)

// CellOf returns the cell containing p at resolution res.
func CellOf(p Point, res int) (Cell, error) {
	if res < 0 || res > MaxRes {
		return 0, ErrResolution
	}
	c, err := h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), res)
	if err != nil {
		return 0, fmt.Errorf("h3 cell at resolution %d: %w", res, err)
	}
	return Cell(c), nil
}

// Res is the resolution of c.
func (c Cell) Res() int { return int((uint64(c) & resMask) >> resShift) }

// Parent returns the ancestor of c at resolution res (H3 cellToParent). res must be in
// [0, c.Res()]; Parent(c.Res()) is c. The ancestor nests c in the hierarchy but does not
// always contain c's area: near edges an H3 child pokes out of its parent, so the
// ancestor of a point's fine cell can differ from the coarse cell of the point itself.
func (c Cell) Parent(res int) Cell {
	cr := c.Res()
	if res >= cr {
		return c
	}
	x := uint64(c)&^resMask | uint64(res)<<resShift
	// Set digits res+1..cr to 7 (unused); digits below cr are already 7.
	lo := uint((MaxRes - cr) * digitBits)
	hi := uint((MaxRes - res) * digitBits)
	x |= (uint64(1)<<hi - 1) &^ (uint64(1)<<lo - 1)
	return Cell(x)
}

// Valid reports whether c is a valid H3 cell index.
func (c Cell) Valid() bool { return h3.Cell(c).IsValid() }

// String is the 15-hex-digit lower-case form H3 tools use.
func (c Cell) String() string { return strconv.FormatUint(uint64(c), 16) }

// AppendText appends c's string form to b.
func (c Cell) AppendText(b []byte) ([]byte, error) { return strconv.AppendUint(b, uint64(c), 16), nil }

// MarshalText implements encoding.TextMarshaler.
func (c Cell) MarshalText() ([]byte, error) { return c.AppendText(nil) }

// UnmarshalText implements encoding.TextUnmarshaler; the text must be a valid H3 cell.
func (c *Cell) UnmarshalText(b []byte) error {
	v, err := ParseCell(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ParseCell parses the hex form of a cell and checks that it is a valid H3 cell.
func ParseCell(s string) (Cell, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || !Cell(v).Valid() {
		return 0, fmt.Errorf("%q: %w", s, ErrInvalidCell)
	}
	return Cell(v), nil
}

// Center is the centre point of c.
func (c Cell) Center() (Point, error) {
	ll, err := h3.CellToLatLng(h3.Cell(c))
	if err != nil {
		return Point{}, fmt.Errorf("cell %s centre: %w", c, err)
	}
	return Point{Lat: ll.Lat, Lng: ll.Lng}, nil
}

// Boundary is the polygon of c, counter-clockwise, without repeating the first vertex.
func (c Cell) Boundary() ([]Point, error) {
	b, err := h3.CellToBoundary(h3.Cell(c))
	if err != nil {
		return nil, fmt.Errorf("cell %s boundary: %w", c, err)
	}
	out := make([]Point, len(b))
	for i, ll := range b {
		out[i] = Point{Lat: ll.Lat, Lng: ll.Lng}
	}
	return out, nil
}

// AreaKm2 is the exact area of c in square kilometres.
func (c Cell) AreaKm2() (float64, error) {
	a, err := h3.CellAreaKm2(h3.Cell(c))
	if err != nil {
		return 0, fmt.Errorf("cell %s area: %w", c, err)
	}
	return a, nil
}

// avgAreaKm2 is H3's average hexagon area per resolution in km² (getHexagonAreaAvgKm2),
// copied as constants so the engine needs no cgo call per release.
var avgAreaKm2 = [MaxRes + 1]float64{
	4.357449416078383e+06, 6.097884417941332e+05, 8.68017803989972e+04,
	1.239343465508816e+04, 1.770347654491307e+03, 2.529038581819449e+02,
	3.612906216441245e+01, 5.161293359717191e+00, 7.373275975944177e-01,
	1.053325134272067e-01, 1.504750190766435e-02, 2.149643129451879e-03,
	3.070918756316060e-04, 4.387026794728296e-05, 6.267181135324313e-06,
	8.95311590760579e-07,
}

// AvgAreaKm2 is the average area of an H3 hexagon at res, in square kilometres. It
// panics on a resolution outside [0, 15], a programming error.
func AvgAreaKm2(res int) float64 { return avgAreaKm2[res] }
