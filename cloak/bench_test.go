package cloak

import (
	"bytes"
	"context"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/synth"
)

// benchInput is about a million check-ins of the synthetic city, made once.
var benchInput = sync.OnceValue(func() []byte {
	cfg := synth.DefaultConfig()
	cfg.Days = 92 // about a million check-ins of the region
	var b bytes.Buffer
	if _, err := synth.Generate(cfg, &b); err != nil {
		panic(err)
	}
	return b.Bytes()
})

func benchLines(b *testing.B) [][]byte {
	return bytes.Split(bytes.TrimSpace(benchInput()), []byte("\n"))
}

func benchConfig(b *testing.B) *config.Config {
	cfg, err := config.Load("../config/example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkFloor is the speed target of evaluate: a loop that decodes each line with
// encoding/json, parses its time and finds its H3 cell, and nothing else.
func BenchmarkFloor(b *testing.B) {
	lines := benchLines(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchInput())))
	for b.Loop() {
		for _, l := range lines {
			if err := FloorLine(l); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "checkins/s")
}

// BenchmarkEvaluate runs the whole engine over the same lines: decode, validate, cell,
// pseudonym, windows, release for one partner, records written to io.Discard.
func BenchmarkEvaluate(b *testing.B) {
	cfg := benchConfig(b)
	in := benchInput()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		pols := NewPolicies(cfg)
		out := NewWriterOutput(pols, []io.Writer{io.Discard}, nil)
		sum, err := Evaluate(context.Background(), bytes.NewReader(in), EvalOptions{Config: cfg, Key: []byte(DevKey)}, out)
		if err != nil {
			b.Fatal(err)
		}
		n += sum.Lines
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "checkins/s")
}

func BenchmarkDecode(b *testing.B) {
	lines := benchLines(b)[:10000]
	d := NewDecoder(config.Default().Input)
	now := time.Now().UnixMilli()
	var c Checkin
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			if err := d.Decode(l, now, &c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkMinimize(b *testing.B) {
	cfg := benchConfig(b)
	lines := benchLines(b)[:10000]
	m := NewMinimizer(cfg, []byte(DevKey))
	now := time.Now().UnixMilli()
	var c Checkin
	var ev Event
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			if err := m.Minimize(l, now, &c, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkRelease measures closing one busy window (an hour of the city, ~10k
// check-ins) for one partner.
func BenchmarkRelease(b *testing.B) {
	cfg := benchConfig(b)
	m := NewMinimizer(cfg, []byte(DevKey))
	now := time.Now().UnixMilli()
	var evs []Event
	var c Checkin
	for _, l := range benchLines(b)[:200000] {
		var ev Event
		if m.Minimize(l, now, &c, &ev) == nil {
			evs = append(evs, ev)
		}
	}
	// The busiest window.
	size := cfg.Window.Size.D().Milliseconds()
	counts := make(map[int64]int)
	var busiest int64
	for _, ev := range evs {
		s := WindowStart(ev.Time, size)
		counts[s]++
		if counts[s] > counts[busiest] {
			busiest = s
		}
	}
	var window []Event
	for _, ev := range evs {
		if WindowStart(ev.Time, size) == busiest {
			window = append(window, ev)
		}
	}
	for _, gen := range []string{config.Greedy, config.Maximal} {
		b.Run(gen, func(b *testing.B) {
			cfg.Partners[0].Generalization = gen
			r := NewReleaser(NewPolicies(cfg), RecordKeySecret(Key(DevKey)))
			b.ReportAllocs()
			for b.Loop() {
				ws := NewWindows(size, false)
				for i := range window {
					ws.Add(&window[i], 0, int64(i), "")
				}
				for _, w := range ws.Close(busiest + size) {
					r.Release(w)
				}
			}
			b.ReportMetric(float64(counts[busiest]), "events/window")
		})
	}
}

// BenchmarkBufferedEventBytes reports the memory an event takes while its window is
// open (target: under 64 bytes).
func BenchmarkBufferedEventBytes(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ws := NewWindows(time.Hour.Milliseconds(), false)
		var before, after runtimeMem
		before.read()
		const n = 1 << 20
		ev := Event{Cell: geo.Cell(0x891f9020933ffff), Category: "Coffee Shop"}
		for i := range n {
			ev.User = Pseudonym(i * 2654435761)
			ev.Time = int64(i % 3600000)
			ws.Add(&ev, 0, int64(i), "")
		}
		after.read()
		b.ReportMetric(float64(after.heap-before.heap)/n, "bytes/event")
		if ws.Buffered() != n {
			b.Fatal("lost events")
		}
	}
}

// BenchmarkReleaseMillionOneCell: one window of a million users, one check-in each, in
// one res-9 cell, released for the three partners of testdata/city.yaml (two events
// partners, one of them with categories, and a counts partner), every record read as
// evaluate and the cloak read them, a batch at a time. It reports the live heap at the
// peak of the release, per event: the buffered events, every partner's release state
// and one batch of records (target: at most 300 bytes).
func BenchmarkReleaseMillionOneCell(b *testing.B) {
	cfg, err := config.Load("../testdata/city.yaml")
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	cell := geo.Cell(0x891f9020933ffff).Parent(9)
	fine, _ := geo.CellOf(geo.Point{Lat: 45.764, Lng: 4.8357}, cfg.CellResolution)
	cats := []string{"Coffee Shop", "Bar", "Gym", "Park", "Office", "Bakery", "Museum", "Unknown Venue Type"}
	pols := NewPolicies(cfg)
	var perEvent float64
	b.ReportAllocs()
	for b.Loop() {
		var base runtimeMem
		base.read()
		r := NewReleaser(pols, RecordKeySecret(Key(DevKey))) // a fresh one: buffers kept from an earlier round are not in base
		ws := NewWindows(time.Hour.Milliseconds(), false)
		for i := range n {
			ev := Event{Cell: fine, User: Pseudonym(uint64(i+1) * 0x9e3779b97f4a7c15), Time: 1_772_445_600_000 + int64(i)%3_600_000,
				Category: cats[i%len(cats)]}
			ws.Add(&ev, 0, int64(i), "")
		}
		peak := uint64(0)
		for _, w := range ws.Close(math.MaxInt64) {
			rel := r.Release(w)
			for i := range rel.Partners {
				for recs, first := rel.Partners[i].Records(RecordBatch), true; recs != nil; recs = rel.Partners[i].Records(RecordBatch) {
					if first {
						var m runtimeMem
						m.read()
						peak = max(peak, m.heap)
						first = false
					}
				}
			}
			if got := rel.Partners[0].Stats.Released; got != n || rel.Partners[0].Classes[0].Cell != cell {
				b.Fatalf("released %d in %v, want all %d in one res-9 class", got, rel.Partners[0].Classes, n)
			}
		}
		perEvent = float64(peak-base.heap) / n
	}
	b.ReportMetric(perEvent, "peak-bytes/event")
}
