package basemap

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// MaxGeoJSONPoints bounds a reviewer's layer: far more than a city's roads at the
// detail a report map can show, and little enough to keep the page and its making
// quick.
const MaxGeoJSONPoints = 2_000_000

// MaxGeoJSONBytes bounds the file read for a reviewer's layer.
const MaxGeoJSONBytes = 256 << 20

// ReadGeoJSON reads a reviewer's layer (roads, districts) from GeoJSON (RFC 7946): a
// FeatureCollection, a Feature or a bare geometry. LineString, MultiLineString,
// Polygon, MultiPolygon and GeometryCollection are kept as lines (polygons by their
// rings); points say nothing on a map of cells and are skipped. Errors name the
// feature and what is wrong. The layer is Lines named name.
func ReadGeoJSON(r io.Reader, name string) (*Layer, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxGeoJSONBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxGeoJSONBytes {
		return nil, fmt.Errorf("larger than %d MB: simplify the layer to what a map of the area can show", MaxGeoJSONBytes>>20)
	}
	var doc struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
		Geometry json.RawMessage   `json:"geometry"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not GeoJSON: %w", err)
	}
	l := &Layer{Name: name, Kind: Lines}
	rd := &reader{layer: l}
	switch doc.Type {
	case "FeatureCollection":
		if doc.Features == nil {
			return nil, errors.New("FeatureCollection without features")
		}
		for i, f := range doc.Features {
			var feat struct {
				Type     string          `json:"type"`
				Geometry json.RawMessage `json:"geometry"`
			}
			if err := json.Unmarshal(f, &feat); err != nil {
				return nil, fmt.Errorf("feature %d: %w", i, err)
			}
			if feat.Type != "Feature" {
				return nil, fmt.Errorf("feature %d: type %q, want Feature", i, feat.Type)
			}
			if err := rd.geometry(feat.Geometry, 0); err != nil {
				return nil, fmt.Errorf("feature %d: %w", i, err)
			}
		}
	case "Feature":
		if err := rd.geometry(doc.Geometry, 0); err != nil {
			return nil, fmt.Errorf("feature: %w", err)
		}
	case "":
		return nil, errors.New(`no "type": not GeoJSON`)
	default:
		if err := rd.geometry(raw, 0); err != nil {
			return nil, err
		}
	}
	if len(l.Items) == 0 {
		return nil, errors.New("no line or polygon to draw")
	}
	return l, nil
}

type reader struct {
	layer  *Layer
	points int
}

// maxNesting bounds GeometryCollections inside GeometryCollections.
const maxNesting = 8

func (rd *reader) geometry(raw json.RawMessage, depth int) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil // a feature without geometry draws nothing
	}
	var g struct {
		Type        string            `json:"type"`
		Coordinates json.RawMessage   `json:"coordinates"`
		Geometries  []json.RawMessage `json:"geometries"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return fmt.Errorf("geometry: %w", err)
	}
	var rings [][][2]float64
	switch g.Type {
	case "Point", "MultiPoint":
		return nil
	case "LineString":
		var c [][2]float64
		if err := unmarshalCoords(g.Coordinates, &c); err != nil {
			return fmt.Errorf("%s: %w", g.Type, err)
		}
		rings = [][][2]float64{c}
	case "MultiLineString", "Polygon":
		if err := unmarshalCoords(g.Coordinates, &rings); err != nil {
			return fmt.Errorf("%s: %w", g.Type, err)
		}
	case "MultiPolygon":
		var polys [][][][2]float64
		if err := unmarshalCoords(g.Coordinates, &polys); err != nil {
			return fmt.Errorf("%s: %w", g.Type, err)
		}
		for _, p := range polys {
			rings = append(rings, p...)
		}
	case "GeometryCollection":
		if depth >= maxNesting {
			return fmt.Errorf("GeometryCollections nested deeper than %d", maxNesting)
		}
		for i, sub := range g.Geometries {
			if err := rd.geometry(sub, depth+1); err != nil {
				return fmt.Errorf("geometry %d: %w", i, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("geometry type %q: want LineString, MultiLineString, Polygon, MultiPolygon, GeometryCollection or a point", g.Type)
	}
	it := Item{Box: Box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}}
	for i, r := range rings {
		if len(r) < 2 {
			return fmt.Errorf("%s: line %d has %d positions, want at least 2", g.Type, i, len(r))
		}
		pts := make([]Point, len(r))
		for j, c := range r {
			lng, lat := c[0], c[1]
			if math.IsNaN(lng) || math.IsNaN(lat) || lat < -90 || lat > 90 || lng < -540 || lng > 540 {
				return fmt.Errorf("%s: line %d, position %d: [%v, %v] is not [longitude, latitude] in degrees", g.Type, i, j, lng, lat)
			}
			pts[j] = Point{Lng: lng, Lat: lat}
			it.Box.MinLng, it.Box.MaxLng = min(it.Box.MinLng, lng), max(it.Box.MaxLng, lng)
			it.Box.MinLat, it.Box.MaxLat = min(it.Box.MinLat, lat), max(it.Box.MaxLat, lat)
		}
		rd.points += len(pts)
		if rd.points > MaxGeoJSONPoints {
			return fmt.Errorf("more than %d positions: simplify the layer to what a map of the area can show", MaxGeoJSONPoints)
		}
		it.Rings = append(it.Rings, pts)
	}
	if len(it.Rings) > 0 {
		rd.layer.Items = append(rd.layer.Items, it)
	}
	return nil
}

// unmarshalCoords decodes coordinates; positions may carry an altitude, which is dropped.
func unmarshalCoords(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return errors.New("no coordinates")
	}
	// Positions are [lng, lat] or [lng, lat, alt]: decode through []float64.
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return fmt.Errorf("coordinates: %w", err)
	}
	fixed, err := positions(generic)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(fixed)
	if err := json.Unmarshal(b, v); err != nil {
		return errors.New("coordinates are not nested as the geometry type needs")
	}
	return nil
}

// positions replaces every position (an array of numbers) by its first two numbers.
func positions(v any) (any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("coordinates: want arrays of positions")
	}
	if len(arr) > 0 {
		if _, isNum := arr[0].(float64); isNum {
			if len(arr) < 2 {
				return nil, errors.New("a position needs longitude and latitude")
			}
			for _, x := range arr {
				if _, ok := x.(float64); !ok {
					return nil, errors.New("a position holds a value that is not a number")
				}
			}
			return []any{arr[0], arr[1]}, nil
		}
	}
	out := make([]any, len(arr))
	for i, x := range arr {
		p, err := positions(x)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}
