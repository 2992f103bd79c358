package pipeline

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/geo"
)

func sampleBatch() *Batch {
	c, _ := geo.CellOf(geo.Point{Lat: 45.764, Lng: 4.8357}, 9)
	return &Batch{
		Source:    3,
		Watermark: 1772445600000,
		Events: []cloak.Event{
			{Cell: c, User: 42, Time: 1772445600123, Category: "Coffee Shop"},
			{Cell: c, User: math.MaxUint64, Time: 1772445500000, Category: ""},
			{Cell: c, User: 7, Time: 1772445700000, Category: "Coffee Shop"},
		},
		Offsets: []int64{10, 11, 400},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	cats := make(map[string]uint64)
	for _, b := range []*Batch{sampleBatch(), {Source: 0, Watermark: cloak.NoWatermark}} {
		enc := AppendBatch(nil, b, cats)
		var got Batch
		if err := DecodeBatch(enc, 9, &got); err != nil {
			t.Fatalf("DecodeBatch: %v", err)
		}
		if got.Source != b.Source || got.Watermark != b.Watermark || len(got.Events) != len(b.Events) ||
			(len(b.Events) > 0 && (!reflect.DeepEqual(got.Events, b.Events) || !reflect.DeepEqual(got.Offsets, b.Offsets))) {
			t.Fatalf("round trip: got %+v, want %+v", got, b)
		}
	}
}

func TestBatchRejects(t *testing.T) {
	enc := AppendBatch(nil, sampleBatch(), make(map[string]uint64))
	var b Batch
	for name, data := range map[string][]byte{
		"empty":      nil,
		"bad magic":  append([]byte{'x'}, enc[1:]...),
		"truncated":  enc[:len(enc)-3],
		"trailing":   append(bytes.Clone(enc), 0),
		"wrong res":  enc,
		"huge count": {batchMagic, batchVersion, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		res := 9
		if name == "wrong res" {
			res = 8
		}
		if err := DecodeBatch(data, res, &b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeBatch: malformed internal messages are errors, never panics; what decodes
// encodes back to the same bytes.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(AppendBatch(nil, sampleBatch(), make(map[string]uint64)))
	f.Add([]byte{batchMagic, batchVersion, 1, 2, 0, 0})
	cats := make(map[string]uint64)
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Batch
		if DecodeBatch(data, 9, &b) != nil {
			return
		}
		again := AppendBatch(nil, &b, cats)
		var b2 Batch
		if err := DecodeBatch(again, 9, &b2); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if !reflect.DeepEqual(b.Events, b2.Events) || !reflect.DeepEqual(b.Offsets, b2.Offsets) || b.Watermark != b2.Watermark {
			t.Fatal("round trip changed the batch")
		}
	})
}
