package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/geocloak/geocloak/geo"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	cityConfig = "../../testdata/city.yaml"
	cityInput  = "../../testdata/city.jsonl.gz"
	testKey    = "test-pseudonym-key-0123456789"
)

// geocloak runs the command line in-process and returns stdout and stderr.
func geocloak(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// The first line of the summary holds wall-clock figures.
var timing = regexp.MustCompile(`in [0-9.]+m?s \([0-9,]+ events/s\)`)

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x  %d lines", sha256.Sum256(b), bytes.Count(b, []byte("\n")))
}

// TestEvaluateGolden pins evaluate's summary, partner records and audit on the
// synthetic city. Refresh with: go test ./cmd/geocloak -run Golden -update
func TestEvaluateGolden(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	stdout, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", cityInput,
		"--out", dir, "--audit", audit, "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	got.WriteString(timing.ReplaceAllString(stdout, "in TIME (RATE events/s)"))
	got.WriteString("\nfiles:\n")
	for _, name := range []string{"acme-ads.jsonl", "metro-insights.jsonl", "beacon-media.jsonl"} {
		fmt.Fprintf(&got, "%s %s\n", name, fileDigest(t, filepath.Join(dir, name)))
	}
	fmt.Fprintf(&got, "audit %s\n", fileDigest(t, audit))
	golden := filepath.Join("testdata", "evaluate.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("evaluate output changed (go test -update to accept):\n--- got\n%s\n--- want\n%s", got.String(), want)
	}
}

// The bundled city is what the generator in this repository makes.
func TestCityIsGenerated(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "city.jsonl.gz")
	if _, _, err := geocloak(t, "synth", "--late-fraction", "0.001", "--invalid-fraction", "0.001", "--out", out); err != nil {
		t.Fatal(err)
	}
	if a, b := gunzip(t, out), gunzip(t, cityInput); !bytes.Equal(a, b) {
		t.Fatalf("testdata/city.jsonl.gz differs from the generator's output (%d vs %d bytes); regenerate it as the README says", len(b), len(a))
	}
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLogCanary (G6): nothing a person could be found by (ids, names, device ids,
// captions, coordinates, venue ids, cells of suppressed groups) appears in what geocloak
// prints, even for invalid records.
func TestLogCanary(t *testing.T) {
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	stdout, stderr, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", cityInput,
		"--out", dir, "--audit", audit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "PSEUDONYM KEY NOT SET") {
		t.Errorf("no loud warning about the development key in:\n%s", stderr)
	}
	checkCanary(t, stdout+stderr, canarySentinels(t, audit, nil))
}

// TestDemoCanary (G6) for the streaming path: the demo's logs, progress, sample records
// and summary hold nothing a person could be found by.
// The demo with a dp partner (config/example.yaml): its records are not compared with
// evaluate's (noise is drawn anew), the exact partner's are, and the demo succeeds.
func TestDemoDP(t *testing.T) {
	stdout, stderr, err := geocloak(t, "demo", "--config", "../../config/example.yaml", "--input", cityInput, "--addr", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"metro-insights", "not compared, dp noise", "acme-ads"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %q in the demo's output:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^acme-ads .* yes \([0-9,]+ records\)$`).MatchString(stdout) {
		t.Errorf("acme-ads not compared equal to evaluate:\n%s", stdout)
	}
}

func TestDemoCanary(t *testing.T) {
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	if _, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", cityInput, "--out", dir, "--audit", audit, "--quiet"); err != nil {
		t.Fatal(err)
	}
	// Released cells may be printed (sample records): they are not sentinels.
	releasedCells := make(map[string]bool)
	for _, name := range []string{"acme-ads", "metro-insights", "beacon-media"} {
		for _, l := range strings.Split(string(must(os.ReadFile(filepath.Join(dir, name+".jsonl")))), "\n") {
			var r struct{ Cell string }
			if json.Unmarshal([]byte(l), &r) == nil {
				releasedCells[r.Cell] = true
			}
		}
	}
	stdout, stderr, err := geocloak(t, "demo", "--config", cityConfig, "--input", cityInput, "--addr", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "records = evaluate?") {
		t.Fatalf("no summary in the demo's output:\n%s", stdout)
	}
	checkCanary(t, stdout+stderr, canarySentinels(t, audit, releasedCells))
}

// canarySentinels lists what a person could be found by in the city: ids, names, device
// ids, venue ids, captions, coordinates, and the cells (res 4 to 10) of every check-in no
// partner received, except cells in skip.
func canarySentinels(t *testing.T, audit string, skip map[string]bool) map[string]bool {
	t.Helper()
	sentinels := make(map[string]bool)
	released := make(map[string]bool)
	for _, l := range strings.Split(string(must(os.ReadFile(audit))), "\n") {
		var a struct {
			ID       string `json:"event_id"`
			Released bool   `json:"released"`
		}
		if json.Unmarshal([]byte(l), &a) == nil && a.Released {
			released[a.ID] = true
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(gunzip(t, cityInput)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		for _, k := range []string{"event_id", "user_id", "username", "device_id", "venue_id", "caption"} {
			if s, ok := rec[k].(string); ok && len(s) >= 6 {
				sentinels[s] = true
			}
		}
		lat, ok1 := rec["lat"].(float64)
		lng, ok2 := rec["lng"].(float64)
		if ok1 && ok2 {
			sentinels[strconv.FormatFloat(lat, 'f', 4, 64)] = true
			sentinels[strconv.FormatFloat(lng, 'f', 4, 64)] = true
			id, _ := rec["event_id"].(string)
			if p, err := geo.NewPoint(lat, lng); err == nil && !released[id] {
				for res := 4; res <= 10; res++ {
					if c, err := geo.CellOf(p, res); err == nil && !skip[c.String()] {
						sentinels[c.String()] = true
					}
				}
			}
		}
	}
	if len(sentinels) < 1000 {
		t.Fatalf("only %d sentinels", len(sentinels))
	}
	return sentinels
}

func checkCanary(t *testing.T, printed string, sentinels map[string]bool) {
	t.Helper()
	for s := range sentinels {
		if strings.Contains(printed, s) {
			t.Errorf("G6: %q from the input appears in geocloak's output:\n%s", s, printed)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		usage bool   // a usageError (exit 2)
		want  string // in the error
	}{
		{"no command", nil, true, "no command"},
		{"unknown command", []string{"frobnicate"}, true, `unknown command "frobnicate"`},
		{"evaluate without flags", []string{"evaluate"}, true, "evaluate needs --config FILE and --input FILE (geocloak evaluate -h lists every flag)"},
		{"evaluate bad flag", []string{"evaluate", "--bogus"}, true, "flag provided but not defined"},
		{"evaluate missing input", []string{"evaluate", "--config", cityConfig, "--input", "nope.jsonl"}, false, "open input"},
		{"evaluate bad config", []string{"evaluate", "--config", "../../config/testdata/names.bad.yaml", "--input", cityInput}, false, "6 problems"},
		{"config check bad", []string{"config", "check", "../../config/testdata/window.bad.yaml"}, false, "window.size: 30s must be in [1m, 168h]"},
		{"config without check", []string{"config"}, true, "usage: geocloak config check FILE"},
		{"partner set refused", []string{"evaluate", "--config", "../../config/testdata/partner_set.bad.yaml", "--input", cityInput}, false,
			"each policy is valid on its own, but not next to the others on one stream; to compare them as alternatives, add --alternatives"},
		{"partner set refused by config check", []string{"config", "check", "../../config/testdata/partner_set.bad.yaml"}, false,
			"use `geocloak evaluate --alternatives`"},
		{"partitioner without partitions", []string{"evaluate", "--config", cityConfig, "--input", cityInput, "--partitioner", "murmur2"}, true,
			"--partitioner applies with --partitions N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := geocloak(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			var ue usageError
			if isUsage := errors.As(err, &ue); isUsage != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", isUsage, tt.usage, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	stdout, _, err := geocloak(t, "config", "check", cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"config ../../testdata/city.yaml: valid",
		"partner acme-ads -> topic sanitized.acme-ads",
		"k                      10 distinct users behind every released tuple",
		"k                      10 distinct users behind every released count (window, cell, resolution)",
		"l-diversity            off",
		"categories             a record shows its category, else its group, when 10 users of its class share it",
		"sensitive groups (suppressed unless a partner opts in): addiction, sexual, health, religion, death, children, residence, politics",
		"every check-in's cell at res 15 (cell_resolution",
		"pseudonym key  from $GEOCLOAK_PSEUDONYM_KEY (set)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("config check output lacks %q:\n%s", want, stdout)
		}
	}
}

// A key that run would refuse (too short, or a key file that cannot be read) makes
// config check fail as a preflight, after printing the policy; the development key (none
// set) does not, since evaluate and demo use it.
func TestConfigCheckUnusableKey(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", "short")
	stdout, _, err := geocloak(t, "config", "check", cityConfig)
	if err == nil || !strings.Contains(err.Error(), "pseudonym key is unusable here") || !strings.Contains(err.Error(), "want at least 16") {
		t.Errorf("short key: error %v", err)
	}
	if !strings.HasPrefix(stdout, "config ../../testdata/city.yaml: valid, but its pseudonym key is unusable here") ||
		!strings.Contains(stdout, "partner acme-ads") {
		t.Errorf("short key: output\n%s", stdout)
	}
	data := string(must(os.ReadFile(cityConfig)))
	cfg := filepath.Join(t.TempDir(), "keyfile.yaml")
	data = strings.Replace(data, "partners:", "pseudonym: {key_file: /nonexistent/geocloak.key}\npartners:", 1)
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := geocloak(t, "config", "check", cfg); err == nil || !strings.Contains(err.Error(), "/nonexistent/geocloak.key") {
		t.Errorf("missing key file: error %v", err)
	}
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", "")
	if stdout, _, err := geocloak(t, "config", "check", cityConfig); err != nil || !strings.Contains(stdout, "NOT SET") {
		t.Errorf("no key: error %v, output\n%s", err, stdout)
	}
}

// config check prints the dp threshold, the class target and the daily budget of a dp
// partner.
func TestConfigCheckDP(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", "")
	stdout, _, err := geocloak(t, "config", "check", "../../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"differential privacy   ε=1, δ=1e-06 per user, window and partition cell",
		"a class needs k=20 true users and a noisy user count >= 47 (noise sd 2.8); one resolution: classes are the cells of k users",
		"resolutions            5 (253 km² avg) only",
		"dp budget per day      ε=24, δ=2.4e-05",
		"generalization         maximal",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("config check output lacks %q:\n%s", want, stdout)
		}
	}
	// A dp partner over several resolutions builds its classes for the threshold plus
	// a margin.
	multi := filepath.Join(t.TempDir(), "dp.yaml")
	if err := os.WriteFile(multi, []byte("partners:\n  - {name: m, topic: t.m, mode: counts, k: 20, max_resolution: 8, dp: {epsilon: 1, delta: 1e-6}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = geocloak(t, "config", "check", multi)
	if err != nil {
		t.Fatal(err)
	}
	if want := "noisy user count >= 47 (noise sd 2.8); classes are built for 53 users (threshold + 2 noise sd)"; !strings.Contains(stdout, want) {
		t.Errorf("config check output lacks %q:\n%s", want, stdout)
	}
}

// A file of which no record is valid (the wrong file) is said to be so, not only
// counted.
func TestEvaluateAllInvalid(t *testing.T) {
	stdout, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", cityConfig, "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	if want := "note: every record of " + cityConfig + " was invalid (most: not a JSON object)"; !strings.Contains(stdout, want) {
		t.Errorf("no %q in:\n%s", want, stdout)
	}
	stdout, _, err = geocloak(t, "evaluate", "--config", cityConfig, "--input", cityInput, "--quiet")
	if err != nil || strings.Contains(stdout, "every record of") {
		t.Errorf("valid input: %v\n%s", err, stdout)
	}
}
