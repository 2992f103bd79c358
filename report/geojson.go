package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/geocloak/geocloak/geo"
)

// WriteGeoJSON writes the released cells as a GeoJSON FeatureCollection (RFC 7946):
// one Polygon feature per partner and released cell, with its check-ins summed over
// windows. Partners in configuration order, cells by H3 index. Vertices are the cell's
// corners in [lng, lat], 6 decimals (about 0.1 m), in a closed counter-clockwise ring;
// they are H3 geometry, not input coordinates. Cells that failed k are never written.
func (r *Report) WriteGeoJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(`{"type":"FeatureCollection","features":[`)
	first := true
	var b []byte
	for _, pr := range r.Partners {
		for _, cc := range pr.Cells {
			ring, err := cc.Cell.Boundary()
			if err != nil {
				return fmt.Errorf("geojson: %w", err)
			}
			ring = unwrapRing(ring)
			b = b[:0]
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, "\n"+`{"type":"Feature","properties":{"partner":`...)
			b = strconv.AppendQuote(b, pr.Policy.Name)
			b = append(b, `,"cell":"`...)
			b, _ = cc.Cell.AppendText(b)
			b = append(b, `","res":`...)
			b = strconv.AppendInt(b, int64(cc.Cell.Res()), 10)
			b = append(b, `,"checkins":`...)
			b = strconv.AppendInt(b, int64(cc.Checkins), 10)
			b = append(b, `,"classes":`...)
			b = strconv.AppendInt(b, int64(cc.Classes), 10)
			b = append(b, `,"windows":`...)
			b = strconv.AppendInt(b, int64(cc.Windows), 10)
			b = append(b, `},"geometry":{"type":"Polygon","coordinates":[[`...)
			for i := 0; i <= len(ring); i++ {
				pt := ring[i%len(ring)] // closed ring: the first vertex again
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, '[')
				b = strconv.AppendFloat(b, pt.Lng, 'f', 6, 64)
				b = append(b, ',')
				b = strconv.AppendFloat(b, pt.Lat, 'f', 6, 64)
				b = append(b, ']')
			}
			b = append(b, "]]}}"...)
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// unwrapRing makes a ring that crosses the antimeridian continuous, with longitudes
// past 180: tools draw it as one polygon instead of one spanning the globe.
func unwrapRing(ring []geo.Point) []geo.Point {
	lo, hi := 180.0, -180.0
	for _, p := range ring {
		lo, hi = min(lo, p.Lng), max(hi, p.Lng)
	}
	if hi-lo <= 180 {
		return ring
	}
	out := make([]geo.Point, len(ring))
	for i, p := range ring {
		if p.Lng < 0 {
			p.Lng += 360
		}
		out[i] = p
	}
	return out
}
