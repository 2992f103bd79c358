package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/synth"
)

const (
	cityConfig = "../testdata/city.yaml"
)

var testKey = []byte("report-test-key-0123456789")

func loadConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// smallCity is a synthetic city of 600 users over 3 days (about 5,000 check-ins).
func smallCity(t *testing.T) []byte { return city(t, 600, 3) }

// city is a synthetic city of users over days, with 0.5% late and 0.5% invalid records.
func city(t *testing.T, users, days int) []byte {
	t.Helper()
	sc := synth.DefaultConfig()
	sc.Users, sc.Venues, sc.Days = users, users, days
	sc.LateFraction, sc.InvalidFraction = 0.005, 0.005
	var buf bytes.Buffer
	if _, err := synth.Generate(sc, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var testNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// evaluate runs the engine over input into a Collector that tees to audit lines and
// partner records (either may be nil).
func evaluate(t *testing.T, cfg *config.Config, input []byte, workers int, audit io.Writer, partners []io.Writer) (*Collector, *cloak.Summary) {
	t.Helper()
	pols := cloak.NewPolicies(cfg)
	wo := cloak.NewWriterOutput(pols, partners, audit)
	c := NewCollector(len(pols), wo)
	sum, err := cloak.Evaluate(context.Background(), bytes.NewReader(input),
		cloak.EvalOptions{Config: cfg, Key: testKey, Now: testNow, Workers: workers, KeepIDs: audit != nil}, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := wo.Flush(); err != nil {
		t.Fatal(err)
	}
	return c, sum
}

func build(t *testing.T, c *Collector, cfg *config.Config, sum *cloak.Summary, sw *Sweep) *Report {
	t.Helper()
	r, err := Build(c, Options{Config: cfg, Summary: sum, Sweep: sw, Source: "test.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func gunzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := cloak.Decompress(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type auditLine = cloak.AuditLine

type inputRecord struct {
	User     string
	Lat, Lng float64
	Time     time.Time
}

// localHour is the hour of local mean solar time at a cell, recomputed here from the
// centre of its resolution-3 ancestor: UTC + longitude / 15° hours.
func localHour(t *testing.T, at time.Time, cell geo.Cell) int {
	t.Helper()
	c, err := cell.Parent(3).Center()
	if err != nil {
		t.Fatal(err)
	}
	return at.Add(time.Duration(math.Round(c.Lng / 15 * float64(time.Hour)))).UTC().Hour()
}

// TestAttacksFromAudit recomputes class sizes, prosecutor risk and its random baseline,
// traces, home inference and its constant guess independently, from evaluate's audit
// lines joined with the raw input by event id, and compares them with the report.
func TestAttacksFromAudit(t *testing.T) {
	cfg := loadConfig(t)
	// A quarter of the bundled city: 1,500 users over 4 days.
	raw := city(t, 1500, 4)
	var audit bytes.Buffer
	c, sum := evaluate(t, cfg, raw, 0, &audit, nil)
	rep := build(t, c, cfg, sum, nil)

	input := make(map[string]inputRecord)
	sc := bufio.NewScanner(bytes.NewReader(gunzipped(t, raw)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			EventID string   `json:"event_id"`
			UserID  string   `json:"user_id"`
			Lat     *float64 `json:"lat"`
			Lng     *float64 `json:"lng"`
			TS      string   `json:"ts"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Lat == nil || r.Lng == nil {
			continue
		}
		ts, err := time.Parse(time.RFC3339, r.TS)
		if err != nil {
			continue
		}
		input[r.EventID] = inputRecord{User: r.UserID, Lat: *r.Lat, Lng: *r.Lng, Time: ts}
	}
	lines := make(map[string][]auditLine)
	dec := json.NewDecoder(&audit)
	for dec.More() {
		var a auditLine
		if err := dec.Decode(&a); err != nil {
			t.Fatal(err)
		}
		lines[a.Partner] = append(lines[a.Partner], a)
	}
	size := cfg.Window.Size.D()
	finest := cfg.CellResolution

	for p, pol := range cfg.Partners {
		t.Run(pol.Name, func(t *testing.T) {
			pr := rep.Partners[p]
			type classKey struct{ start, cell string }
			classUsers := make(map[classKey]map[string]bool)
			classRecs := make(map[classKey]int)
			type tupleKey struct{ start, cell, category string }
			tupleUsers := make(map[tupleKey]map[string]bool)
			tupleRecs := make(map[tupleKey]int)
			nightCells := make(map[string]map[string]int) // user -> home-resolution cell -> night check-ins
			type traceKey struct {
				user  string
				epoch int64
			}
			traces := make(map[traceKey]map[classKey]bool)
			nightRel := make(map[traceKey]map[string]int)
			crowd := make(map[string]bool)
			windowUsers := make(map[string]map[string]bool) // window start -> users released in it
			nightVolume := make(map[string]int)             // released cell -> check-ins in night-time windows
			released := 0
			for _, a := range lines[pol.Name] {
				in, ok := input[a.EventID]
				if a.Reason == "invalid" || a.Reason == "late" {
					continue
				}
				if !ok {
					t.Fatalf("audit event %s is not in the input", a.EventID)
				}
				pt, _ := geo.NewPoint(in.Lat, in.Lng)
				fine, err := geo.CellOf(pt, finest)
				if err != nil {
					t.Fatal(err)
				}
				if h := localHour(t, in.Time, fine); h >= 22 || h < 6 {
					if nightCells[in.User] == nil {
						nightCells[in.User] = make(map[string]int)
					}
					nightCells[in.User][fine.Parent(pol.MaxResolution).String()]++
				}
				if !a.Released {
					continue
				}
				released++
				k := classKey{a.WindowStart, a.Cell}
				if classUsers[k] == nil {
					classUsers[k] = make(map[string]bool)
				}
				classUsers[k][in.User] = true
				classRecs[k]++
				tk := tupleKey{a.WindowStart, a.Cell, ""}
				if a.Category != nil {
					tk.category = *a.Category
				}
				if tupleUsers[tk] == nil {
					tupleUsers[tk] = make(map[string]bool)
				}
				tupleUsers[tk][in.User] = true
				tupleRecs[tk]++
				if windowUsers[a.WindowStart] == nil {
					windowUsers[a.WindowStart] = make(map[string]bool)
				}
				windowUsers[a.WindowStart][in.User] = true
				ws, err := time.Parse(time.RFC3339, a.WindowStart)
				if err != nil {
					t.Fatal(err)
				}
				trk := traceKey{in.User, ws.UnixMilli() / LinkPeriod.Milliseconds()}
				if traces[trk] == nil {
					traces[trk] = make(map[classKey]bool)
				}
				traces[trk][k] = true
				cell, _ := geo.ParseCell(a.Cell)
				if mid := localHour(t, ws.Add(size/2), cell); mid >= 22 || mid < 6 {
					if nightRel[trk] == nil {
						nightRel[trk] = make(map[string]int)
					}
					nightRel[trk][a.Cell]++
					nightVolume[a.Cell]++
					if cell.Res() == pol.MaxResolution {
						crowd[a.Cell] = true
					}
				}
			}
			if released != pr.Stats.Released {
				t.Fatalf("audit has %d released, stats %d", released, pr.Stats.Released)
			}

			// Tuples (events mode): what the partner can tell apart, from the audit's
			// categories; none below k; the chance one known visit picks out a record.
			if pol.Mode == config.ModeEvents {
				below, pick := 0, 0.0
				for tk, us := range tupleUsers {
					if len(us) < pol.K {
						below += tupleRecs[tk]
					}
					pick++
				}
				tu := pr.Tuples
				if tu.Tuples != len(tupleUsers) || tu.RecordsBelowK != below || below != 0 || tu.Records != released ||
					math.Abs(tu.PickOut-pick/float64(released)) > 1e-12 {
					t.Errorf("tuples %+v; from the audit: %d tuples, %d records below k, pick-out %.4f",
						tu, len(tupleUsers), below, pick/float64(released))
				}
				if pol.Has("category") && len(tupleUsers) <= len(classUsers) {
					t.Errorf("%d tuples for %d classes: no category was shown, the test proves little", len(tupleUsers), len(classUsers))
				}
			}

			// Class sizes and prosecutor risk.
			var sizes []int
			risk, random, records := 0.0, 0.0, 0
			for k, us := range classUsers {
				sizes = append(sizes, len(us))
				n := classRecs[k]
				if pol.Mode == config.ModeCounts {
					n = 1
				}
				risk += float64(n) / float64(len(us))
				random += float64(n) / float64(len(windowUsers[k.start]))
				records += n
			}
			slices.Sort(sizes)
			nr := func(q float64) int { return sizes[int(math.Ceil(q*float64(len(sizes))))-1] }
			s := pr.Sizes
			if s.Classes != len(sizes) || s.Min != sizes[0] || s.Q1 != nr(.25) || s.Median != nr(.5) || s.Q3 != nr(.75) ||
				s.Max != sizes[len(sizes)-1] || s.Records != records {
				t.Errorf("class sizes %+v; from the audit: %d classes, %d/%d/%d/%d/%d, %d records", s, len(sizes),
					sizes[0], nr(.25), nr(.5), nr(.75), sizes[len(sizes)-1], records)
			}
			if math.Abs(s.MaxRisk-1/float64(sizes[0])) > 1e-12 || math.Abs(s.MeanRisk-risk/float64(records)) > 1e-12 ||
				math.Abs(s.RandomRisk-random/float64(records)) > 1e-12 {
				t.Errorf("risk max %v mean %v random %v; from the audit %v, %v, %v", s.MaxRisk, s.MeanRisk, s.RandomRisk,
					1/float64(sizes[0]), risk/float64(records), random/float64(records))
			}
			if s.RandomRisk <= 0 || s.RandomRisk >= s.MeanRisk {
				t.Errorf("random choice %v against %v knowing the cell: the baseline should be lower", s.RandomRisk, s.MeanRisk)
			}
			if s.Min < pol.K || s.Min != pr.Stats.MinClassUsers {
				t.Errorf("smallest class %d, k %d, stats %d", s.Min, pol.K, pr.Stats.MinClassUsers)
			}

			// Home inference.
			homes := make(map[string]string)
			for u, cells := range nightCells {
				total, best, bestN := 0, "", 0
				for cell, n := range cells {
					total += n
					if n > bestN || n == bestN && cellLess(cell, best) {
						best, bestN = cell, n
					}
				}
				if total >= 3 {
					homes[u] = best
				}
			}
			crowds := 0
			for _, h := range homes {
				if crowd[h] {
					crowds++
				}
			}
			located := make(map[string]bool)
			atMax := make(map[string]bool)
			for tk, cells := range nightRel {
				best, bestN := "", 0
				for cell, n := range cells {
					if n > bestN || n == bestN && cellLess(cell, best) {
						best, bestN = cell, n
					}
				}
				home, ok := homes[tk.user]
				if !ok {
					continue
				}
				g, _ := geo.ParseCell(best)
				hc, _ := geo.ParseCell(home)
				if hc.Parent(g.Res()) == g {
					located[tk.user] = true
					if g.Res() == pol.MaxResolution {
						atMax[tk.user] = true
					}
				}
			}
			guess, guessN := "", 0
			for cell, n := range nightVolume {
				if n > guessN || n == guessN && cellLess(cell, guess) {
					guess, guessN = cell, n
				}
			}
			guessLocated := 0
			gc, _ := geo.ParseCell(guess)
			for _, home := range homes {
				if hc, _ := geo.ParseCell(home); hc.Parent(gc.Res()) == gc {
					guessLocated++
				}
			}
			h := pr.Home
			if h.Eligible != len(homes) || h.Crowds != crowds {
				t.Errorf("home: %d eligible, %d crowds; from the audit %d, %d", h.Eligible, h.Crowds, len(homes), crowds)
			}
			// No night-time class released: no guess (the zero cell).
			if h.Guess != 0 && (h.Guess.String() != guess || h.GuessLocated != guessLocated) || (h.Guess == 0) != (guess == "") {
				t.Errorf("constant guess %s locating %d; from the audit %s locating %d", h.Guess, h.GuessLocated, guess, guessLocated)
			}
			if guessLocated == 0 && pol.Mode == config.ModeEvents {
				// (A counts partner with k = 20 may release no night-time class of this
				// small region; the events partners must.)
				t.Error("the constant guess locates nobody: the test proves little")
			}
			if pol.Mode == config.ModeCounts {
				if h.Located != 0 {
					t.Errorf("counts mode: %d located, want 0", h.Located)
				}
				return
			}
			if h.Located != len(located) || h.LocatedAtMax != len(atMax) {
				t.Errorf("home: %d located (%d at max), from the audit %d (%d)", h.Located, h.LocatedAtMax, len(located), len(atMax))
			}

			// Traces: the same sets of points.
			got := c.buildTraces(p, LinkPeriod.Milliseconds())
			var a, b []string
			for _, tr := range got {
				var pts []string
				for _, x := range tr.points {
					cl := c.classes[p][x]
					pts = append(pts, time.UnixMilli(cl.start).UTC().Format(time.RFC3339)+"/"+cl.cell.String())
				}
				slices.Sort(pts)
				a = append(a, strings.Join(pts, " "))
			}
			for _, pts := range traces {
				var s []string
				for k := range pts {
					s = append(s, k.start+"/"+k.cell)
				}
				slices.Sort(s)
				b = append(b, strings.Join(s, " "))
			}
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Errorf("traces differ: %d from the collector, %d from the audit", len(a), len(b))
			}
			if pr.Traces != len(b) {
				t.Errorf("report counts %d traces, audit %d", pr.Traces, len(b))
			}
			if pr.Unicity[0].P != 1 || pr.Unicity[0].Unique != 0 {
				t.Errorf("unicity at p=1 is %d of %d: every point has at least k=%d users", pr.Unicity[0].Unique, pr.Unicity[0].Considered, pol.K)
			}
		})
	}
}

func cellLess(a, b string) bool {
	if b == "" {
		return true
	}
	x, _ := strconv.ParseUint(a, 16, 64)
	y, _ := strconv.ParseUint(b, 16, 64)
	return x < y
}

// unicity's postings and intersections against a scan of every trace, with the same
// draws.
func TestUnicityAgainstScan(t *testing.T) {
	cfg := loadConfig(t)
	c, _ := evaluate(t, cfg, smallCity(t), 0, nil, nil)
	for p := range cfg.Partners {
		traces := c.buildTraces(p, day)
		got := unicity(traces, len(c.classes[p]), UnicityPoints)
		sets := make([]map[int32]bool, len(traces))
		for i, tr := range traces {
			sets[i] = make(map[int32]bool)
			for _, x := range tr.points {
				sets[i][x] = true
			}
		}
		for j, np := range UnicityPoints {
			rng := rand.New(rand.NewPCG(unicitySeed, uint64(np)))
			want := UnicityAt{P: np}
			for _, tr := range traces {
				if len(tr.points) < np {
					continue
				}
				want.Considered++
				var pick []int32
				for len(pick) < np {
					x := tr.points[rng.IntN(len(tr.points))]
					if !slices.Contains(pick, x) {
						pick = append(pick, x)
					}
				}
				holders := 0
				for _, s := range sets {
					all := true
					for _, x := range pick {
						all = all && s[x]
					}
					if all {
						holders++
					}
				}
				if holders == 1 {
					want.Unique++
				}
			}
			if got[j] != want {
				t.Errorf("partner %d, p=%d: %+v, scan gives %+v", p, np, got[j], want)
			}
		}
		if got[len(got)-1].Considered == 0 {
			t.Errorf("partner %d: no trace with 4 points: the test data prove nothing", p)
		}
	}
}

// Same input and config: the same bytes, whatever the decoding parallelism.
func TestDeterministic(t *testing.T) {
	cfg := loadConfig(t)
	input := smallCity(t)
	sw, err := RunSweep(context.Background(), input, SweepOptions{Config: cfg, Key: testKey, Now: testNow,
		Grid: Grid{K: []int{5, 20}, Resolutions: [][2]int{{9, 5}, {8, 5}}, Windows: []time.Duration{time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	var outs [2][2]bytes.Buffer
	for i, workers := range []int{1, 3} {
		c, sum := evaluate(t, cfg, input, workers, nil, nil)
		sum.Elapsed = time.Duration(i+1) * time.Second // wall-clock figures must not show
		r := build(t, c, cfg, sum, sw)
		if err := r.WriteHTML(&outs[i][0]); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteGeoJSON(&outs[i][1]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(outs[0][0].Bytes(), outs[1][0].Bytes()) {
		t.Error("HTML differs between two runs")
	}
	if !bytes.Equal(outs[0][1].Bytes(), outs[1][1].Bytes()) {
		t.Error("GeoJSON differs between two runs")
	}
}

// The sweep is the engine: its configured points are the evaluation's figures, and a
// grid point is what that policy gets when it is configured alone.
func TestSweepMatchesEngine(t *testing.T) {
	cfg := loadConfig(t)
	// Finest resolution 9 here, so that the (10, 6) points need a run of their own.
	cfg.Partners = cfg.Partners[:2]
	input := smallCity(t)
	_, sum := evaluate(t, cfg, input, 0, nil, nil)
	grid := Grid{K: []int{5, 10}, Resolutions: [][2]int{{9, 5}, {10, 6}, {9, 3}}, Windows: []time.Duration{15 * time.Minute, time.Hour}}
	sw, err := RunSweep(context.Background(), input, SweepOptions{Config: cfg, Key: testKey, Now: testNow, Grid: grid, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Per partner: the configured point and 2 k × 2 resolution pairs × 2 windows ((9, 3)
	// is below partition_resolution 4).
	if want := 2 * (1 + 8); len(sw.Points) != want {
		t.Fatalf("%d points, want %d", len(sw.Points), want)
	}
	// cell_resolution is one value for all: the policies of one window share a run.
	if sw.Runs != 2 {
		t.Errorf("%d runs, want 2 (one per window)", sw.Runs)
	}
	for _, pt := range sw.Points {
		if pt.Configured && pt.Stats != sum.Partners[pt.Partner].Stats {
			t.Errorf("configured point of %s: %+v, evaluate: %+v", cfg.Partners[pt.Partner].Name, pt.Stats, sum.Partners[pt.Partner].Stats)
		}
		if pt.MinRes < cfg.PartitionResolution {
			t.Errorf("point below partition_resolution: %+v", pt)
		}
	}
	// A grid point against the engine with that policy configured instead.
	for _, pt := range sw.Points {
		if pt.Configured || pt.Partner != 1 || pt.MaxRes != 10 || pt.K != 5 || pt.Window != 15*time.Minute {
			continue
		}
		alone := *cfg
		alone.Window.Size = config.Duration(pt.Window)
		alone.Partners = slices.Clone(cfg.Partners)
		alone.Partners[1].K, alone.Partners[1].MaxResolution, alone.Partners[1].MinResolution = pt.K, pt.MaxRes, pt.MinRes
		_, s := evaluate(t, &alone, input, 0, nil, nil)
		if s.Partners[1].Stats != pt.Stats {
			t.Errorf("grid point %+v, engine with that policy: %+v", pt.Stats, s.Partners[1].Stats)
		}
		var text bytes.Buffer
		if err := sw.WriteText(&text, cfg); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(text.String(), "\n"); n != len(sw.Points)+3 {
			t.Errorf("sweep table has %d lines for %d points:\n%s", n, len(sw.Points), text.String())
		}
		return
	}
	t.Fatal("no grid point (partner 1, k=5, 10..6, 15m)")
}

func TestGeoJSON(t *testing.T) {
	cfg := loadConfig(t)
	c, sum := evaluate(t, cfg, smallCity(t), 0, nil, nil)
	r := build(t, c, cfg, sum, nil)
	var buf bytes.Buffer
	if err := r.WriteGeoJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string
		Features []struct {
			Type       string
			Properties struct {
				Partner          string
				Cell             string
				Res, Checkins    int
				Classes, Windows int
			}
			Geometry struct {
				Type        string
				Coordinates [][][2]float64
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &fc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) == 0 {
		t.Fatalf("type %q with %d features", fc.Type, len(fc.Features))
	}
	released := make(map[string]int)
	for _, f := range fc.Features {
		cell, err := geo.ParseCell(f.Properties.Cell)
		if err != nil || cell.Res() != f.Properties.Res {
			t.Errorf("cell %q res %d: %v", f.Properties.Cell, f.Properties.Res, err)
		}
		ring := f.Geometry.Coordinates[0]
		if f.Type != "Feature" || f.Geometry.Type != "Polygon" || len(ring) < 7 || ring[0] != ring[len(ring)-1] {
			t.Errorf("feature %s: not a closed polygon ring: %v", f.Properties.Cell, ring)
		}
		center, _ := cell.Center()
		if math.Abs(ring[0][0]-center.Lng) > 1 || math.Abs(ring[0][1]-center.Lat) > 1 {
			t.Errorf("feature %s: vertex %v far from the centre %v: not [lng, lat]", f.Properties.Cell, ring[0], center)
		}
		released[f.Properties.Partner] += f.Properties.Checkins
	}
	for p, ps := range sum.Partners {
		if got := released[cfg.Partners[p].Name]; got != ps.Released {
			t.Errorf("%s: %d check-ins in features, %d released", cfg.Partners[p].Name, got, ps.Released)
		}
	}
}

// What a person sees in the HTML is what the report computed: one polygon per released
// cell drawn, one point per sweep policy, and the attack rows.
func TestHTML(t *testing.T) {
	cfg := loadConfig(t)
	input := smallCity(t)
	c, sum := evaluate(t, cfg, input, 0, nil, nil)
	grid := Grid{K: []int{5, 10}, Resolutions: [][2]int{{9, 5}}, Windows: []time.Duration{time.Hour, 4 * time.Hour}}
	sw, err := RunSweep(context.Background(), input, SweepOptions{Config: cfg, Key: testKey, Now: testNow, Grid: grid})
	if err != nil {
		t.Fatal(err)
	}
	r := build(t, c, cfg, sum, sw)
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	cells := 0
	for _, pr := range r.Partners {
		cells += len(pr.Cells)
		for _, cc := range pr.Cells {
			if !strings.Contains(html, fmt.Sprintf("<title>cell %s, res %d: %s check-ins released", cc.Cell, cc.Cell.Res(), Thousands(int64(cc.Checkins)))) {
				t.Errorf("%s: released cell %s not drawn", pr.Policy.Name, cc.Cell)
			}
		}
	}
	if got := strings.Count(html, `<polygon class="cell`); got < cells {
		t.Errorf("%d cell polygons, %d released cells", got, cells)
	}
	// Two charts per partner, 2 k × 2 windows each; the configured point is a diamond.
	if got, want := strings.Count(html, `class="sweep-pt"`), 2*len(cfg.Partners)*4; got != want {
		t.Errorf("%d sweep points, want %d", got, want)
	}
	if got, want := strings.Count(html, `<path class="sweep-configured"`), 2*len(cfg.Partners)+len(cfg.Partners); got != want {
		t.Errorf("%d configured markers, want %d (two charts and a legend per partner)", got, want)
	}
	if !strings.Contains(html, "records carry no pseudonym: no trace can be built, unicity does not apply") {
		t.Error("no statement that unicity does not apply without pid")
	}
	for _, s := range []string{"<script", "http://", "https://", "@import", "url(http"} {
		if strings.Contains(html, s) {
			t.Errorf("the report holds %q: it must need no script and no network", s)
		}
	}
	for _, pr := range r.Partners {
		if !strings.Contains(html, fmt.Sprintf("%d / %d / %d / %d / %d", pr.Sizes.Min, pr.Sizes.Q1, pr.Sizes.Median, pr.Sizes.Q3, pr.Sizes.Max)) {
			t.Errorf("%s: class sizes not shown", pr.Policy.Name)
		}
	}
	sections := strings.Split(html, `<section class="partner"`)[1:]
	if len(sections) != len(cfg.Partners) {
		t.Fatalf("%d partner sections", len(sections))
	}
	legend := regexp.MustCompile(`(?s)<div class="legend small"><b>released check-ins per km².*?</div>`)
	first := legend.FindString(sections[0])
	for i, sec := range sections {
		// One legend for every partner: the same classes and colours.
		if l := legend.FindString(sec); l == "" || l != first {
			t.Errorf("partner %d: legend %q differs from the first partner's %q", i, l, first)
		}
		// Two time charts: 24 hours and 7 days, one bar each.
		if n := strings.Count(sec, `<g class="time-bar">`); n != 24+7 {
			t.Errorf("partner %d: %d time bars, want 31", i, n)
		}
		if !strings.Contains(sec, "<b>What to change</b>") {
			t.Errorf("partner %d: no advice", i)
		}
		// Every map holds land, a scale bar and a north arrow.
		maps := strings.Count(sec, `<svg class="map`)
		if n := strings.Count(sec, `<path class="land" d="M`) + strings.Count(sec, `<use href="#world-geo"/>`); n != maps || maps == 0 {
			t.Errorf("partner %d: %d maps, %d with land", i, maps, n)
		}
		for _, part := range []string{`<g class="scalebar">`, `<g class="north"`} {
			if n := strings.Count(sec, part); n != maps {
				t.Errorf("partner %d: %d maps, %d with %s", i, maps, n, part)
			}
		}
		if !strings.Contains(sec, "baseline: random choice") || !strings.Contains(sec, "baseline: one constant guess") {
			t.Errorf("partner %d: baselines not shown", i)
		}
	}
	if strings.Contains(html, "000000") {
		t.Error("a number with float noise is on the page")
	}
	// The definitions say what the code does: each check-in's cell is at cell_resolution
	// (not derived from the partners), and the sweep's runs are one per window size.
	if want := fmt.Sprintf("its cell at cell_resolution (resolution %d,", cfg.CellResolution); !strings.Contains(html, want) {
		t.Errorf("the definitions do not say %q", want)
	}
	if want := fmt.Sprintf("Policies sharing a window size are decided in one engine run (%d runs)", len(grid.Windows)); sw.Runs != len(grid.Windows) || !strings.Contains(html, want) {
		t.Errorf("%d sweep runs; the definitions do not say %q", sw.Runs, want)
	}
}

// A dp partner's classes that do not pass the noisy threshold are not released: the
// report counts only the released ones.
func TestDPDroppedClasses(t *testing.T) {
	cfg := loadConfig(t)
	cfg.Partners[1].DP = &config.DP{Epsilon: 10, Delta: 1e-3}
	cfg.Partners[1].K = 2
	input := smallCity(t)
	// Classes are built a margin above the threshold, so a drop is rare: evaluate until
	// one happens (the noise is random by design).
	var pr *PartnerReport
	for try := 0; try < 200 && (pr == nil || pr.Stats.DPDropped == 0); try++ {
		c, sum := evaluate(t, cfg, input, 0, nil, nil)
		pr = build(t, c, cfg, sum, nil).Partners[1]
	}
	if pr.Stats.DPDropped == 0 {
		t.Fatal("no class dropped by the dp threshold in 200 runs: the test proves nothing")
	}
	released := 0
	for _, cc := range pr.Cells {
		released += cc.Checkins
	}
	if pr.Sizes.Classes != pr.Stats.Classes || pr.Sizes.Records != pr.Stats.Classes || released != pr.Stats.Released {
		t.Errorf("report: %d classes, %d records, %d check-ins in cells; stats: %d classes, %d released",
			pr.Sizes.Classes, pr.Sizes.Records, released, pr.Stats.Classes, pr.Stats.Released)
	}
	if pr.Sizes.Min != pr.Stats.MinClassUsers {
		t.Errorf("smallest class %d, stats %d", pr.Sizes.Min, pr.Stats.MinClassUsers)
	}
}

// Axis ticks read as short percentages, never with float noise.
func TestPercentTick(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0.6 * 2 / 4, "30%"}, {0.30000000000000004, "30%"}, {0, "0%"}, {1, "100%"}, {0.1 / 4, "2.5%"},
		{0.2 * 3 / 4, "15%"}, {0.8 * 3 / 4, "60%"}, {0.05, "5%"},
	} {
		if got := percentTick(tc.f); got != tc.want {
			t.Errorf("percentTick(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	// Every top and tick of the rate axis.
	for _, top := range []float64{0.1, 0.2, 0.4, 0.6, 0.8, 1} {
		for i := 0; i <= rateTicks; i++ {
			if l := percentTick(top * float64(i) / rateTicks); len(l) > 5 {
				t.Errorf("top %v, tick %d: %q", top, i, l)
			}
		}
	}
}

// With the evaluation's summary, the configured point and grid points with its
// settings are the summary's figures, also for a dp partner whose noise differs from run
// to run.
func TestSweepConfiguredFromSummary(t *testing.T) {
	cfg := loadConfig(t)
	cfg.Partners[1].DP = &config.DP{Epsilon: 0.5, Delta: 1e-3}
	input := smallCity(t)
	_, sum := evaluate(t, cfg, input, 0, nil, nil)
	grid := Grid{K: []int{10, 20}, Resolutions: [][2]int{{8, 5}, {9, 5}}, Windows: []time.Duration{time.Hour}}
	sw, err := RunSweep(context.Background(), input, SweepOptions{Config: cfg, Key: testKey, Now: testNow, Grid: grid, Summary: sum})
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for _, pt := range sw.Points {
		p := cfg.Partners[pt.Partner]
		settings := pt.K == p.K && pt.MaxRes == p.MaxResolution && pt.MinRes == p.MinResolution && pt.Window == cfg.Window.Size.D()
		if settings != pt.FromSummary {
			t.Errorf("%s point %+v: FromSummary %v, configured settings %v", p.Name, pt, pt.FromSummary, settings)
		}
		if settings {
			same++
			if pt.Stats != sum.Partners[pt.Partner].Stats {
				t.Errorf("%s: point with the configured settings %+v, summary %+v", p.Name, pt.Stats, sum.Partners[pt.Partner].Stats)
			}
		}
	}
	// Each partner's configured point, plus its grid point (10, 9..5, 1h): the three
	// partners share their settings.
	if same != 2*len(cfg.Partners) {
		t.Errorf("%d points with the configured settings, want %d", same, 2*len(cfg.Partners))
	}
}

// A partner whose own resolutions are not a pair of the grid gets them too: a change of
// k or window alone is on its grid (the only changes a dp partner at one resolution can
// take).
func TestSweepOwnResolutions(t *testing.T) {
	cfg := loadConfig(t)
	cfg.Partners = cfg.Partners[:2]
	cfg.Partners[1].MaxResolution, cfg.Partners[1].MinResolution = 5, 5
	input := smallCity(t)
	grid := Grid{K: []int{5, 10}, Resolutions: [][2]int{{9, 5}, {10, 6}}, Windows: []time.Duration{15 * time.Minute, time.Hour}}
	sw, err := RunSweep(context.Background(), input, SweepOptions{Config: cfg, Key: testKey, Now: testNow, Grid: grid})
	if err != nil {
		t.Fatal(err)
	}
	per := make([]int, 2)
	own := 0
	for _, pt := range sw.Points {
		per[pt.Partner]++
		if pt.Partner == 1 && !pt.Configured && pt.MaxRes == 5 && pt.MinRes == 5 {
			own++
		}
	}
	// Partner 0 (9..5, on the grid): 1 + 2 k × 2 pairs × 2 windows; partner 1: one pair more.
	if per[0] != 9 || per[1] != 13 || own != 4 {
		t.Errorf("points per partner %v, %d at the own pair 5..5; want [9 13], 4", per, own)
	}
}
