package synth

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var keys = []string{"event_id", "user_id", "lat", "lng", "ts", "venue_id", "venue_category",
	"caption", "username", "device_id"}

// generate returns the lines of Generate(cfg), cached per config because
// several tests look at the default city.
var generated sync.Map

func generate(t testing.TB, cfg Config) [][]byte {
	t.Helper()
	if v, ok := generated.Load(cfg); ok {
		return v.([][]byte)
	}
	var buf bytes.Buffer
	n, err := Generate(cfg, &buf)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if n != len(lines) {
		t.Fatalf("Generate returned n = %d, wrote %d lines", n, len(lines))
	}
	generated.Store(cfg, lines)
	return lines
}

type record struct {
	EventID       string  `json:"event_id"`
	UserID        string  `json:"user_id"`
	Lat           float64 `json:"lat"`
	Lng           float64 `json:"lng"`
	TS            string  `json:"ts"`
	VenueID       string  `json:"venue_id"`
	VenueCategory string  `json:"venue_category"`
	Caption       string  `json:"caption"`
	Username      string  `json:"username"`
	DeviceID      string  `json:"device_id"`
	time          time.Time
}

// parse checks that line is a JSON object with exactly the expected keys in
// order, of the expected types, and decodes it.
func parse(line []byte) (record, error) {
	var r record
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return r, err
	}
	if len(m) != len(keys) {
		return r, fmt.Errorf("%d keys, want %d", len(m), len(keys))
	}
	at := 0
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			return r, errors.New("missing " + k)
		}
		// Keys in order: each one after the previous; no value contains `"k":`.
		i := bytes.Index(line[at:], []byte(`"`+k+`":`))
		if i < 0 {
			return r, errors.New("key out of order: " + k)
		}
		at += i
		isNum := v[0] == '-' || v[0] >= '0' && v[0] <= '9'
		if (k == "lat" || k == "lng") != isNum || !isNum && v[0] != '"' {
			return r, errors.New("wrong type for " + k)
		}
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, err
	}
	var err error
	if r.time, err = time.Parse(time.RFC3339, r.TS); err != nil {
		return r, err
	}
	return r, nil
}

// records returns the parsed lines of Generate(cfg), which must all be
// valid, cached like generate.
var parsed sync.Map

func records(t *testing.T, cfg Config) []record {
	t.Helper()
	if v, ok := parsed.Load(cfg); ok {
		return v.([]record)
	}
	lines := generate(t, cfg)
	rs := make([]record, len(lines))
	for i, l := range lines {
		var err error
		if rs[i], err = parse(l); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
	}
	parsed.Store(cfg, rs)
	return rs
}

// tsOf returns the ts of a valid line without decoding all of it.
func tsOf(line []byte) (time.Time, error) {
	_, rest, _ := bytes.Cut(line, []byte(`"ts":"`))
	ts, _, _ := bytes.Cut(rest, []byte(`"`))
	return time.Parse(time.RFC3339, string(ts))
}

func TestDeterminism(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Users, cfg.Venues, cfg.Days = 500, 400, 3
	cfg.LateFraction, cfg.InvalidFraction = 0.02, 0.02
	var a, b, c bytes.Buffer
	if _, err := Generate(cfg, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(cfg, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same config gave different output")
	}
	cfg.Seed++
	if _, err := Generate(cfg, &c); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds gave the same output")
	}
}

func TestLinesValid(t *testing.T) {
	cfg := DefaultConfig()
	rs := records(t, cfg)
	if len(rs) < 50_000 || len(rs) > 70_000 {
		t.Errorf("%d check-ins, want about 60,000", len(rs))
	}
	// 10 km each way: a 20 km box around the centre.
	dLat := 10 / 111.2
	dLng := dLat / math.Cos(cfg.CenterLat*math.Pi/180)
	end := cfg.Start.AddDate(0, 0, cfg.Days)
	ids := make(map[string]bool, len(rs))
	for i, r := range rs {
		if math.Abs(r.Lat-cfg.CenterLat) > dLat || math.Abs(r.Lng-cfg.CenterLng) > dLng {
			t.Fatalf("line %d: %v,%v outside the 20 km box", i+1, r.Lat, r.Lng)
		}
		if r.time.Before(cfg.Start) || !r.time.Before(end) {
			t.Fatalf("line %d: ts %s outside [%s, %s)", i+1, r.TS, cfg.Start, end)
		}
		if ids[r.EventID] {
			t.Fatalf("line %d: duplicate event_id %s", i+1, r.EventID)
		}
		ids[r.EventID] = true
		if r.UserID == "" || r.VenueID == "" || r.VenueCategory == "" || r.Username == "" || r.DeviceID == "" {
			t.Fatalf("line %d: empty field: %+v", i+1, r)
		}
	}
}

// lateness returns, for each record, how far its ts is behind the largest
// ts before it.
func lateness(rs []record) []time.Duration {
	late := make([]time.Duration, len(rs))
	var top time.Time
	for i, r := range rs {
		if r.time.Before(top) {
			late[i] = top.Sub(r.time)
		} else {
			top = r.time
		}
	}
	return late
}

func TestDisorder(t *testing.T) {
	cfg := DefaultConfig()
	late := lateness(records(t, cfg))
	disordered := 0
	for i, d := range late {
		if d > 3*time.Minute {
			t.Fatalf("line %d is %v behind an earlier line", i+1, d)
		}
		if d > 0 {
			disordered++
		}
	}
	// 1% of lines are delayed; most of them overtake another line.
	t.Logf("%d of %d lines out of order", disordered, len(late))
	if f := float64(disordered) / float64(len(late)); f < 0.003 || f > 0.015 {
		t.Errorf("%.2f%% of lines out of order, want about 1%%", 100*f)
	}

	cfg.LateFraction = 0.01
	late = lateness(records(t, cfg))
	n := 0
	for i, d := range late {
		if d > 93*time.Minute {
			t.Fatalf("line %d is %v behind an earlier line", i+1, d)
		}
		if d >= 20*time.Minute {
			n++
		}
	}
	t.Logf("LateFraction 0.01: %d of %d lines 20+ minutes late", n, len(late))
	if f := float64(n) / float64(len(late)); f < 0.005 || f > 0.015 {
		t.Errorf("%.2f%% of lines 20+ minutes late, want about 1%%", 100*f)
	}
}

func TestRealism(t *testing.T) {
	cfg := DefaultConfig()
	rs := records(t, cfg)

	users := map[string]int{}
	venues := map[string]int{}
	cats := map[string]int{}
	var byLocalHour [24]int
	for _, r := range rs {
		users[r.UserID]++
		venues[r.VenueID]++
		cats[r.VenueCategory]++
		byLocalHour[r.time.Add(localOffset*time.Second).Hour()]++
	}
	if math.Abs(float64(len(users)-cfg.Users)) > 0.1*float64(cfg.Users) {
		t.Errorf("%d distinct users, want %d ± 10%%", len(users), cfg.Users)
	}

	counts := make([]int, 0, len(venues))
	for _, n := range venues {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	top := 0
	for _, n := range counts[:cfg.Venues/100] {
		top += n
	}
	t.Logf("%d check-ins, %d distinct users, top 1%% of venues get %.1f%%", len(rs), len(users), 100*float64(top)/float64(len(rs)))
	if f := float64(top) / float64(len(rs)); f < 0.10 {
		t.Errorf("top 1%% of venues get %.1f%% of check-ins, want > 10%%", 100*f)
	}

	for _, c := range SensitiveCategories {
		if cats[c] == 0 {
			t.Errorf("no check-in at a %q", c)
		}
	}
	sensitive := 0
	for _, c := range SensitiveCategories {
		sensitive += cats[c]
	}
	t.Logf("%d check-ins at sensitive venues", sensitive)
	if f := float64(sensitive) / float64(len(rs)); f < 0.005 || f > 0.1 {
		t.Errorf("%.1f%% of check-ins at sensitive venues, want a few per cent", 100*f)
	}

	// Daily rhythm: lunch (12-14h local) is far busier than the night (3-5h).
	if lunch, night := byLocalHour[12]+byLocalHour[13], byLocalHour[3]+byLocalHour[4]; lunch < 5*night {
		t.Errorf("%d check-ins at lunch, %d at night: no daily rhythm", lunch, night)
	}

	// Activity is heavy-tailed: most users are below the mean.
	mean := float64(len(rs)) / float64(len(users))
	below := 0
	for _, n := range users {
		if float64(n) < mean {
			below++
		}
	}
	t.Logf("%d of %d users below the mean of %.1f check-ins", below, len(users), mean)
	if f := float64(below) / float64(len(users)); f < 0.6 {
		t.Errorf("%.0f%% of users below the mean activity, want most", 100*f)
	}
}

// distKm is the equirectangular distance, accurate to far better than 1%
// across a city.
func distKm(lat1, lng1, lat2, lng2 float64) float64 {
	x := (lng2 - lng1) * math.Cos((lat1+lat2)/2*math.Pi/180)
	return math.Hypot(x, lat2-lat1) * 6371 * math.Pi / 180
}

func TestCheckinsNearHome(t *testing.T) {
	cfg, err := DefaultConfig().withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := newCity(cfg)
	near := map[int]bool{}
	for _, r := range records(t, cfg) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.UserID, "user-"))
		if err != nil || i >= len(c.users) {
			t.Fatalf("bad user_id %q", r.UserID)
		}
		lat, lng := c.latLng(c.users[i].hx, c.users[i].hy)
		if distKm(lat, lng, r.Lat, r.Lng) <= 1 {
			near[i] = true
		}
	}
	t.Logf("%d of %d users have a check-in within 1 km of home", len(near), cfg.Users)
	if f := float64(len(near)) / float64(cfg.Users); f < 0.8 {
		t.Errorf("%.1f%% of users have a check-in within 1 km of home, want >= 80%%", 100*f)
	}
}

func TestNearMatchesBruteForce(t *testing.T) {
	cfg, _ := DefaultConfig().withDefaults()
	cfg.Venues = 500
	c := newCity(cfg)
	g := newGrid(c.venues)
	r := newRNG(7, 9)
	for range 500 {
		x, y := r.place(mixture{0, 0, 0, 0}, nil)
		got := g.near(x, y, c.venues, nil)
		idx := make([]int32, len(c.venues))
		for i := range idx {
			idx[i] = int32(i)
		}
		d2 := func(i int32) int64 {
			dx, dy := int64(c.venues[i].x-x), int64(c.venues[i].y-y)
			return dx*dx + dy*dy
		}
		slices.SortFunc(idx, func(a, b int32) int {
			return cmp.Or(cmp.Compare(d2(a), d2(b)), cmp.Compare(a, b))
		})
		var want []int32
		for k, i := range idx {
			if k == nearMax || k >= nearMin && d2(i) > nearRadius*nearRadius {
				break
			}
			want = append(want, i)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("near(%d, %d) = %v, want %v", x, y, got, want)
		}
	}
}

// invalidKindOf names what is wrong with line, or returns "" for a valid
// check-in. It is written independently of the generator.
func invalidKindOf(line []byte) string {
	if !json.Valid(line) {
		if bytes.Contains(line, []byte(`"lat":NaN`)) {
			return "lat NaN"
		}
		return "not JSON"
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return "not an object"
	}
	user, ok := m["user_id"].(string)
	switch {
	case !ok:
		return "missing user_id"
	case user == "":
		return "empty user_id"
	}
	switch lat := m["lat"].(type) {
	case nil:
		return "missing lat"
	case string:
		return "lat string"
	case map[string]any:
		return "nested object"
	case float64:
		if math.Abs(lat) > 90 {
			return "lat out of range"
		}
	default:
		return "lat other"
	}
	if lng, ok := m["lng"].(float64); !ok || math.Abs(lng) > 180 {
		return "lng invalid"
	}
	ts, _ := m["ts"].(string)
	if _, err := time.Parse(time.RFC3339, ts); err != nil {
		return "bad time"
	}
	if _, err := parse(line); err != nil {
		return "other: " + err.Error()
	}
	return ""
}

func TestInvalidFraction(t *testing.T) {
	cfg := DefaultConfig()
	clean := generate(t, cfg)
	cfg.InvalidFraction = 0.05
	lines := generate(t, cfg)
	if len(lines) != len(clean) {
		t.Fatalf("%d lines, %d without invalid ones", len(lines), len(clean))
	}
	// Lines that are not invalid are those of the clean run (whose lines
	// TestLinesValid checks).
	kinds := map[string]int{}
	for i, l := range lines {
		if bytes.Equal(l, clean[i]) {
			continue
		}
		k := invalidKindOf(l)
		if k == "" {
			t.Fatalf("line %d valid but differs from the clean run:\n%s\n%s", i+1, l, clean[i])
		}
		kinds[k]++
	}
	n := 0
	for _, c := range kinds {
		n += c
	}
	if f := float64(n) / float64(len(lines)); f < 0.045 || f > 0.055 {
		t.Errorf("%.2f%% invalid lines, want about 5%%", 100*f)
	}
	want := []string{"not JSON", "missing user_id", "missing lat", "lat string", "lat out of range",
		"lng invalid", "lat NaN", "bad time", "empty user_id", "nested object"}
	for _, k := range want {
		if kinds[k] == 0 {
			t.Errorf("no invalid line of kind %q", k)
		}
	}
	if len(kinds) != len(want) {
		t.Errorf("invalid kinds %v, want exactly %v", kinds, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.InvalidFraction = 1.5 },
		func(c *Config) { c.LateFraction = -0.1 },
		func(c *Config) { c.LateFraction = math.NaN() },
		func(c *Config) { c.CenterLat = 89 },
		func(c *Config) { c.CenterLng = 180 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		if _, err := Generate(cfg, io.Discard); err == nil {
			t.Errorf("Generate(%+v) accepted", cfg)
		}
		if err := Stream(context.Background(), cfg, func([]byte) error { return nil }); err == nil {
			t.Errorf("Stream(%+v) accepted", cfg)
		}
	}
}

func TestStreamCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := Stream(ctx, DefaultConfig(), func([]byte) error {
		if n++; n == 1000 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Stream returned %v, want context.Canceled", err)
	}
	if n != 1000 {
		t.Errorf("fn called %d times, want 1000", n)
	}
}

func TestStreamError(t *testing.T) {
	cfg := DefaultConfig()
	want := generate(t, cfg)
	stop := errors.New("stop")
	// Past the default 7 days: the stream goes on, in time order, and
	// matches Generate up to its last day.
	limit := len(want) * 3 / 2
	var got [][]byte
	var top time.Time
	err := Stream(context.Background(), cfg, func(line []byte) error {
		ts, err := tsOf(line)
		if err != nil {
			return err
		}
		if ts.Before(top.Add(-3 * time.Minute)) {
			return errors.New("out of order: " + string(line))
		}
		if ts.After(top) {
			top = ts
		}
		if got = append(got, slices.Clone(line)); len(got) == limit {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("Stream returned %v, want the error of fn", err)
	}
	if end := cfg.Start.AddDate(0, 0, cfg.Days+2); top.Before(end) {
		t.Errorf("stream reached only %s after %d lines", top, limit)
	}
	for i := range len(want) * 6 / 7 {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("line %d of Stream differs from Generate:\n%s\n%s", i+1, got[i], want[i])
		}
	}
}

// TestGenerateWriteError checks that a failing writer stops Generate.
func TestGenerateWriteError(t *testing.T) {
	w := bufio.NewWriterSize(failWriter{}, 16)
	if _, err := Generate(DefaultConfig(), w); err == nil {
		t.Error("Generate ignored a write error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	lines := 0
	for b.Loop() {
		n, err := Generate(DefaultConfig(), io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		lines += n
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}

// TestGolden pins the output of a small city, so that a change in the Go
// toolchain or the platform that would change the output is noticed. If
// the model was changed on purpose, update the hash.
func TestGolden(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Users, cfg.Venues, cfg.Days = 300, 300, 2
	cfg.LateFraction, cfg.InvalidFraction = 0.01, 0.01
	h := sha256.New()
	n, err := Generate(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	const want = "7f4f5383f4371ec357ec8c002a9922e8973000e6b2db3681d65f61d151c3838b"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("Generate wrote %d lines with SHA-256 %s, want %s", n, got, want)
	}
}
