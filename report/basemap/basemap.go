// Package basemap provides the geography under the report's maps: land, lakes and
// country borders from Natural Earth, embedded in the binary (naturalearth.bin, made by
// ./gen from the sources in README.md), and a reviewer's own line layer read from
// GeoJSON. It holds geometry in degrees and nothing about the data; it does no drawing.
// It imports only the standard library.
package basemap

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

//go:embed naturalearth.bin
var naturalEarth []byte

// Kind says how a layer is drawn.
type Kind byte

const (
	// Polygons are filled areas: each item's first ring is its outline, the others holes.
	Polygons Kind = 1
	// Lines are drawn as strokes: each ring of an item is one line.
	Lines Kind = 2
)

// Point is a position in degrees.
type Point struct{ Lng, Lat float64 }

// Box is a longitude/latitude extent in degrees.
type Box struct{ MinLng, MinLat, MaxLng, MaxLat float64 }

// Intersects reports whether b and o overlap.
func (b Box) Intersects(o Box) bool {
	return b.MinLng <= o.MaxLng && o.MinLng <= b.MaxLng && b.MinLat <= o.MaxLat && o.MinLat <= b.MaxLat
}

// Item is one polygon (outline and holes) or one line (possibly in parts).
type Item struct {
	Rings [][]Point
	Box   Box
}

// Layer is a named set of items of one kind.
type Layer struct {
	Name  string
	Kind  Kind
	Items []Item
}

// Points is the number of points in the layer.
func (l *Layer) Points() int {
	n := 0
	for _, it := range l.Items {
		for _, r := range it.Rings {
			n += len(r)
		}
	}
	return n
}

// World decodes the embedded Natural Earth base map: layers "land" and "lakes"
// (Polygons) and "borders" (Lines), in that order. Each call decodes anew (a few
// milliseconds); the result is the caller's.
func World() ([]*Layer, error) {
	ls, err := Unmarshal(naturalEarth)
	if err != nil {
		return nil, fmt.Errorf("embedded base map: %w", err)
	}
	return ls, nil
}

// EmbeddedSize is the size of the embedded base map, bytes.
func EmbeddedSize() int { return len(naturalEarth) }

// magic starts the format: then per layer its name, kind, quantization (scale and
// translate, as TopoJSON's transform: degrees = q·scale + translate) and items; every
// ring as zigzag varint deltas of quantized coordinates.
const magic = "geocloak basemap 1\n"

// EncodedLayer is a layer in quantized coordinates, as gen writes it.
type EncodedLayer struct {
	Name             string
	Kind             Kind
	Scale, Translate [2]float64
	Items            [][][][2]int64 // item -> ring -> point (x, y)
}

// Encoded is a base map in quantized coordinates.
type Encoded struct{ Layers []EncodedLayer }

// Marshal writes e in the embedded format. The same layers give the same bytes.
func (e *Encoded) Marshal() []byte {
	b := []byte(magic)
	b = binary.AppendUvarint(b, uint64(len(e.Layers)))
	for _, l := range e.Layers {
		b = binary.AppendUvarint(b, uint64(len(l.Name)))
		b = append(b, l.Name...)
		b = append(b, byte(l.Kind))
		for _, f := range []float64{l.Scale[0], l.Scale[1], l.Translate[0], l.Translate[1]} {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
		b = binary.AppendUvarint(b, uint64(len(l.Items)))
		for _, it := range l.Items {
			b = binary.AppendUvarint(b, uint64(len(it)))
			for _, r := range it {
				b = binary.AppendUvarint(b, uint64(len(r)))
				var x, y int64
				for _, p := range r {
					b = binary.AppendVarint(b, p[0]-x)
					b = binary.AppendVarint(b, p[1]-y)
					x, y = p[0], p[1]
				}
			}
		}
	}
	return b
}

var errShort = errors.New("truncated")

// Unmarshal decodes the embedded format.
func Unmarshal(b []byte) ([]*Layer, error) {
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return nil, errors.New("not a geocloak base map")
	}
	d := decoder{b: b[len(magic):]}
	n := d.uvarint()
	var out []*Layer
	for range n {
		if d.err != nil {
			break
		}
		l := &Layer{Name: string(d.bytes(int(d.uvarint())))}
		kind := d.bytes(1)
		if len(kind) == 1 {
			l.Kind = Kind(kind[0])
		}
		var q [4]float64
		for i := range q {
			q[i] = math.Float64frombits(binary.LittleEndian.Uint64(pad8(d.bytes(8))))
		}
		items := d.uvarint()
		for range items {
			if d.err != nil {
				break
			}
			it := Item{Box: Box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}}
			rings := d.uvarint()
			for range rings {
				if d.err != nil {
					break
				}
				np := d.uvarint()
				if np > uint64(len(d.b)) { // every point takes at least 2 bytes
					d.err = errShort
					break
				}
				r := make([]Point, 0, np)
				var x, y int64
				for range np {
					x += d.varint()
					y += d.varint()
					r = append(r, Point{Lng: float64(x)*q[0] + q[2], Lat: float64(y)*q[1] + q[3]})
				}
				if l.Kind == Polygons {
					it.Rings = append(it.Rings, unwrapRing(r))
				} else {
					it.Rings = append(it.Rings, splitLine(r)...)
				}
			}
			for _, r := range it.Rings {
				for _, p := range r {
					it.Box.MinLng, it.Box.MaxLng = min(it.Box.MinLng, p.Lng), max(it.Box.MaxLng, p.Lng)
					it.Box.MinLat, it.Box.MaxLat = min(it.Box.MinLat, p.Lat), max(it.Box.MaxLat, p.Lat)
				}
			}
			l.Items = append(l.Items, it)
		}
		out = append(out, l)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last layer", len(d.b))
	}
	return out, nil
}

// The sources are spherical: a ring that crosses the antimeridian jumps from 180° to
// -180°. Drawn on a plane, such a jump would be a line across the world.

// unwrapRing makes a ring's longitudes continuous (past 180° where it crosses), so
// that it is drawn once at its place and once shifted by 360°. A ring around a pole
// (Antarctica) ends 360° from where it starts: it is closed along the pole.
func unwrapRing(r []Point) []Point {
	if len(r) < 2 {
		return r
	}
	off := 0.0
	for i := 1; i < len(r); i++ {
		l := r[i].Lng + off
		switch d := l - r[i-1].Lng; {
		case d > 180:
			off, l = off-360, l-360
		case d < -180:
			off, l = off+360, l+360
		}
		r[i].Lng = l
	}
	if off != 0 {
		pole := 90.0
		if r[0].Lat < 0 {
			pole = -90
		}
		r = append(r, Point{Lng: r[len(r)-1].Lng, Lat: pole}, Point{Lng: r[0].Lng, Lat: pole})
	}
	return r
}

// splitLine cuts a line where it crosses the antimeridian.
func splitLine(r []Point) [][]Point {
	var out [][]Point
	start := 0
	for i := 1; i < len(r); i++ {
		if d := r[i].Lng - r[i-1].Lng; d > 180 || d < -180 {
			if i-start >= 2 {
				out = append(out, r[start:i])
			}
			start = i
		}
	}
	if len(r)-start >= 2 {
		out = append(out, r[start:])
	}
	return out
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = errShort
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func pad8(b []byte) []byte {
	if len(b) == 8 {
		return b
	}
	return make([]byte, 8)
}
