package cloak

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/geocloak/geocloak/geo"
)

// floorRecord is what the floor decodes: the fields a naive job would read.
type floorRecord struct {
	EventID  string  `json:"event_id"`
	UserID   string  `json:"user_id"`
	Lat      float64 `json:"lat"`
	Lng      float64 `json:"lng"`
	TS       string  `json:"ts"`
	Category string  `json:"venue_category"`
}

// FloorLine is the speed floor evaluate must beat: decode one line with encoding/json,
// parse its time and find its H3 cell at resolution 9, and nothing else. It exists only
// for benchmarks (go test -bench Floor, geocloak bench --engine).
func FloorLine(line []byte) error {
	var r floorRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return err
	}
	if _, err := time.Parse(time.RFC3339, r.TS); err != nil {
		return err
	}
	if _, err := geo.CellOf(geo.Point{Lat: r.Lat, Lng: r.Lng}, 9); err != nil {
		return fmt.Errorf("cell: %w", err)
	}
	return nil
}
