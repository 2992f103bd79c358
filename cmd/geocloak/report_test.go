package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// smallCity writes a synthetic city of 800 users over 2 days (about 4,500 check-ins,
// with late and invalid records) and returns its path: small enough for the sweep to
// run in seconds under the race detector.
func smallCity(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "small.jsonl.gz")
	if _, _, err := geocloak(t, "synth", "--users", "800", "--days", "2", "--late-fraction", "0.01",
		"--invalid-fraction", "0.01", "--out", out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The report flags add to evaluate's output; they change none of it.
func TestEvaluateSweepFlag(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	input := smallCity(t)
	plain, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", input, "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	withSweep, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", input, "--quiet", "--sweep",
		"--geojson", filepath.Join(dir, "cells.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	plain = timing.ReplaceAllString(plain, "")
	withSweep = timing.ReplaceAllString(withSweep, "")
	if !strings.HasPrefix(withSweep, plain) {
		t.Fatalf("--sweep changed the summary:\n--- without\n%s\n--- with\n%s", plain, withSweep)
	}
	table := strings.TrimPrefix(withSweep, plain)
	configured := regexp.MustCompile(`(?m)^ *(\S+) +\* +1h +(\d+)\.\.(\d+) +(\d+) `)
	got := configured.FindAllStringSubmatch(table, -1)
	if len(got) != 3 {
		t.Fatalf("%d configured rows in the sweep table, want 3:\n%s", len(got), table)
	}
	for i, name := range []string{"acme-ads", "metro-insights", "beacon-media"} {
		if got[i][1] != name {
			t.Errorf("configured row %d is %q, want %s", i, got[i][1], name)
		}
	}
	// 3 partners × (1 configured + 5 k × 4 resolution pairs × 3 windows).
	rows := regexp.MustCompile(`(?m)^ *(acme-ads|metro-insights|beacon-media) `).FindAllString(table, -1)
	if len(rows) != 3*61 {
		t.Errorf("%d sweep rows, want %d", len(rows), 3*61)
	}
	var fc struct {
		Type     string
		Features []json.RawMessage
	}
	if err := json.Unmarshal(must(os.ReadFile(filepath.Join(dir, "cells.geojson"))), &fc); err != nil || fc.Type != "FeatureCollection" || len(fc.Features) == 0 {
		t.Errorf("geojson: %v, type %q, %d features", err, fc.Type, len(fc.Features))
	}
}

func TestReportWriteError(t *testing.T) {
	// Folders are created as needed: a file in the way of one cannot be.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", smallCity(t), "--quiet",
		"--geojson", filepath.Join(file, "x.geojson"))
	if err == nil || !strings.Contains(err.Error(), "write geojson") {
		t.Errorf("err = %v, want a write geojson error", err)
	}
}

// TestReportCanary: the report and the GeoJSON hold no user id, pseudonym, event id,
// name, device id, caption, venue id, input coordinate, nor any cell that failed k
// (unless another class released that cell).
func TestReportCanary(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	input := smallCity(t)
	dir := t.TempDir()
	reportPath := filepath.Join(dir, "report.html")
	geojsonPath := filepath.Join(dir, "cells.geojson")
	audit := filepath.Join(dir, "audit.jsonl")
	if _, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", input, "--quiet",
		"--audit", audit, "--report", reportPath, "--geojson", geojsonPath); err != nil {
		t.Fatal(err)
	}
	report := string(must(os.ReadFile(reportPath)))
	geojson := string(must(os.ReadFile(geojsonPath)))
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	m := cloak.NewMinimizer(cfg, []byte(testKey))

	type rec struct {
		ID, User string
		Lat, Lng float64
		ok       bool
	}
	records := make(map[string]rec)
	sentinels := make(map[string]string) // sentinel -> what it is
	exact := make(map[string]bool)       // coordinates as written in the input
	sc := bufio.NewScanner(bytes.NewReader(gunzip(t, input)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var r map[string]any
		if dec.Decode(&r) != nil {
			continue
		}
		for _, k := range []string{"event_id", "user_id", "username", "device_id", "venue_id", "caption"} {
			if s, ok := r[k].(string); ok && len(s) >= 6 {
				sentinels[s] = k
			}
		}
		if u, ok := r["user_id"].(string); ok && u != "" {
			p := m.Pseudonym([]byte(u))
			sentinels[fmt.Sprintf("%016x", uint64(p))] = "pseudonym"
			sentinels[strconv.FormatUint(uint64(p), 10)] = "pseudonym"
		}
		var rc rec
		rc.ID, _ = r["event_id"].(string)
		rc.User, _ = r["user_id"].(string)
		lat, ok1 := r["lat"].(json.Number)
		lng, ok2 := r["lng"].(json.Number)
		if ok1 && ok2 {
			exact[lat.String()], exact[lng.String()] = true, true
			rc.Lat, _ = lat.Float64()
			rc.Lng, _ = lng.Float64()
			sentinels[strconv.FormatFloat(rc.Lat, 'f', 4, 64)] = "latitude"
			sentinels[strconv.FormatFloat(rc.Lng, 'f', 4, 64)] = "longitude"
			rc.ok = true
		}
		records[rc.ID] = rc
	}
	// Cells that failed k: every cell a below_k check-in had between the partner's
	// resolutions, unless some class released that cell.
	released := make(map[string]bool)
	failed := make(map[string]bool)
	policy := make(map[string]config.Partner)
	for _, p := range cfg.Partners {
		policy[p.Name] = p
	}
	for _, l := range strings.Split(string(must(os.ReadFile(audit))), "\n") {
		var a struct {
			ID                    string `json:"event_id"`
			Partner, Cell, Reason string
			Released              bool
		}
		if json.Unmarshal([]byte(l), &a) != nil {
			continue
		}
		if a.Released {
			released[a.Cell] = true
			continue
		}
		rc := records[a.ID]
		if a.Reason != "below_k" || !rc.ok {
			continue
		}
		pt, err := geo.NewPoint(rc.Lat, rc.Lng)
		if err != nil {
			t.Fatal(err)
		}
		fine, err := geo.CellOf(pt, cfg.CellResolution)
		if err != nil {
			t.Fatal(err)
		}
		for res := policy[a.Partner].MinResolution; res <= policy[a.Partner].MaxResolution; res++ {
			failed[fine.Parent(res).String()] = true
		}
	}
	nFailed := 0
	for c := range failed {
		if !released[c] {
			sentinels[c] = "cell that failed k"
			nFailed++
		}
	}
	if len(sentinels) < 1000 || nFailed < 50 {
		t.Fatalf("only %d sentinels, %d failed cells: the test proves nothing", len(sentinels), nFailed)
	}
	for s, what := range sentinels {
		if strings.Contains(report, s) {
			t.Errorf("report holds a %s: %q", what, s)
		}
		// GeoJSON vertices are cell corners with 6 decimals: a coordinate cut to 4
		// decimals is a prefix of many of them. The exact input coordinates are
		// checked below.
		if what != "latitude" && what != "longitude" && strings.Contains(geojson, s) {
			t.Errorf("geojson holds a %s: %q", what, s)
		}
	}
	for s := range exact {
		if len(s) >= 8 && strings.Contains(geojson, s) {
			t.Errorf("geojson holds the input coordinate %s", s)
		}
	}
	if !strings.Contains(geojson, `"cell":"`) || !strings.Contains(report, `<polygon class="cell`) {
		t.Fatal("no released cell in the outputs: the canary proves nothing")
	}
}

// probeScript is appended to a copy of the report for the browser test only (the report
// itself has no script). It measures what the browser laid out and writes it as JSON.
const probeScript = `<script>
(function () {
  function shown(el) { var r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; }
  function inside(r, o) { return r.right >= o.left - 1 && r.left <= o.right + 1 && r.bottom >= o.top - 1 && r.top <= o.bottom + 1; }
  function within(r, o) { return r.left >= o.left - 1 && r.right <= o.right + 1 && r.top >= o.top - 1 && r.bottom <= o.bottom + 1; }
  var out = {maps: 0, cells: 0, cellsShown: 0, cellsInside: 0, fill: "", fitW: 0, fitH: 0,
    suppressed: 0, charts: 0, points: 0, configured: 0, attackRows: 0, attackText: "", scrollWidth: 0,
    allMaps: 0, withLand: 0, landPainted: 0, withScale: 0, withNorth: 0, timeCharts: 0, timeBars: 0, timeBarsShown: 0, timeBarsOut: 0,
    overflow: [], cut: [], names: 0, brokenNames: [], emptyLegend: 0, timeLegend: []};
  var maps = document.querySelectorAll("svg.map:not(.overview)");
  out.maps = maps.length;
  for (var i = 0; i < maps.length; i++) {
    var mr = maps[i].getBoundingClientRect();
    var cells = maps[i].querySelectorAll("polygon.cell");
    var l = 1e9, t = 1e9, r = -1e9, b = -1e9;
    for (var j = 0; j < cells.length; j++) {
      var cr = cells[j].getBoundingClientRect();
      out.cells++;
      if (shown(cells[j])) out.cellsShown++;
      if (inside(cr, mr)) out.cellsInside++;
      l = Math.min(l, cr.left); t = Math.min(t, cr.top); r = Math.max(r, cr.right); b = Math.max(b, cr.bottom);
    }
    if (i === 0 && cells.length > 0) {
      out.fill = getComputedStyle(cells[0]).fill;
      out.fitW = (Math.min(r, mr.right) - Math.max(l, mr.left)) / mr.width;
      out.fitH = (Math.min(b, mr.bottom) - Math.max(t, mr.top)) / mr.height;
    }
    out.suppressed += maps[i].querySelectorAll("polygon.supp").length;
  }
  // Every map, the overviews too: a painted base map, a scale bar and a north arrow
  // inside it.
  var all = document.querySelectorAll("svg.map");
  out.allMaps = all.length;
  for (var i = 0; i < all.length; i++) {
    var mr = all[i].getBoundingClientRect();
    var land = all[i].querySelector("path.land, use");
    if (land && (land.tagName === "use" || (land.getAttribute("d") || "").length > 0)) out.withLand++;
    if (land && shown(land) && getComputedStyle(land.tagName === "use" ? document.querySelector("#world-geo path.land") : land).fill !== "none") out.landPainted++;
    var sb = all[i].querySelector("g.scalebar"), na = all[i].querySelector("g.north");
    if (sb && shown(sb) && within(sb.getBoundingClientRect(), mr)) out.withScale++;
    if (na && shown(na) && within(na.getBoundingClientRect(), mr)) out.withNorth++;
  }
  var charts = document.querySelectorAll("svg.sweep-chart");
  out.charts = charts.length;
  for (var i = 0; i < charts.length; i++) {
    var pr = charts[i].getBoundingClientRect();
    var pts = charts[i].querySelectorAll("circle.sweep-pt");
    for (var j = 0; j < pts.length; j++) if (shown(pts[j]) && inside(pts[j].getBoundingClientRect(), pr)) out.points++;
    var conf = charts[i].querySelectorAll("path.sweep-configured");
    for (var j = 0; j < conf.length; j++) if (shown(conf[j]) && inside(conf[j].getBoundingClientRect(), pr)) out.configured++;
  }
  var tcs = document.querySelectorAll("svg.time-chart");
  out.timeCharts = tcs.length;
  for (var i = 0; i < tcs.length; i++) {
    var bars = tcs[i].querySelectorAll("g.time-bar");
    out.timeBars += bars.length;
    // An hour without check-ins has an empty bar; every other bar is drawn inside its chart.
    for (var j = 0; j < bars.length; j++) {
      if (!shown(bars[j])) continue;
      out.timeBarsShown++;
      if (!within(bars[j].getBoundingClientRect(), tcs[i].getBoundingClientRect())) out.timeBarsOut++;
    }
  }
  var rows = document.querySelectorAll("table.attack-table tr");
  for (var i = 0; i < rows.length; i++) if (rows[i].querySelector("td") && shown(rows[i])) out.attackRows++;
  var first = document.querySelector("table.attack-table");
  if (first) out.attackText = first.innerText;
  out.scrollWidth = document.documentElement.scrollWidth;
  // Nothing wider than its card (a card that scrolls sideways hides part of a table),
  // and no text cut at the window's edge.
  var cards = document.querySelectorAll(".card");
  for (var i = 0; i < cards.length; i++) {
    if (cards[i].scrollWidth > cards[i].clientWidth + 1) {
      var what = cards[i].querySelector("table, svg, figcaption");
      out.overflow.push((what ? what.tagName + "." + what.getAttribute("class") : "card") + " " + cards[i].scrollWidth + ">" + cards[i].clientWidth);
    }
  }
  var texts = document.querySelectorAll("td, th, p, h1, h2, h3, figcaption, li, dd, dt");
  for (var i = 0; i < texts.length; i++) {
    var r = texts[i].getBoundingClientRect();
    if (r.width > 0 && r.right > window.innerWidth + 1) out.cut.push(texts[i].tagName + ": " + texts[i].innerText.slice(0, 40));
  }
  // Partner names stay whole (no line break at a hyphen); every legend entry is named.
  var names = document.querySelectorAll("td.name a, span.name");
  for (var i = 0; i < names.length; i++) if (names[i].getClientRects().length !== 1) out.brokenNames.push(names[i].textContent);
  out.names = names.length;
  var entries = document.querySelectorAll(".legend span");
  for (var i = 0; i < entries.length; i++) if (entries[i].textContent.trim() === "") out.emptyLegend++;
  var times = document.querySelectorAll(".time-row + .legend span");
  for (var i = 0; i < times.length; i++) out.timeLegend.push(times[i].textContent.trim());
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`

type probe struct {
	Maps, Cells, CellsShown, CellsInside, Suppressed int
	Fill                                             string
	FitW, FitH                                       float64
	Charts, Points, Configured, AttackRows           int
	AttackText                                       string
	ScrollWidth                                      int
	AllMaps, WithLand, LandPainted                   int
	WithScale, WithNorth                             int
	TimeCharts, TimeBars, TimeBarsShown, TimeBarsOut int
	Overflow, Cut                                    []string
	Names, EmptyLegend                               int
	BrokenNames, TimeLegend                          []string
}

// TestReportInBrowser renders the report in headless Chromium at 1400 and 800 px and
// checks what a person would see: every map with its base map, scale bar and north
// arrow, the cells drawn inside the map and filling it, the sweep charts' points and the
// configured policy's marker, the time charts, the attack tables' rows, nothing wider
// than its card or cut at the window's edge; from a screenshot, that the map is
// painted; and, printed to PDF, every sweep row on paper and no chart split by a page.
func TestReportInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("GEOCLOAK_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium not found and GEOCLOAK_REQUIRE_CHROMIUM is set: apt-get install -y chromium")
		}
		t.Skip("chromium not installed (apt-get install -y chromium); GEOCLOAK_REQUIRE_CHROMIUM=1 makes this a failure")
	}
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	dir := t.TempDir()
	reportPath := filepath.Join(dir, "report.html")
	if _, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", smallCity(t), "--quiet", "--report", reportPath); err != nil {
		t.Fatal(err)
	}
	page := string(must(os.ReadFile(reportPath)))
	probed := filepath.Join(dir, "probed.html")
	if err := os.WriteFile(probed, []byte(strings.Replace(page, "</body>", probeScript+"</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	browse := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + filepath.Join(dir, "profile")}
		cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}
	measure := func(width int) probe {
		t.Helper()
		dom := string(browse(fmt.Sprintf("--window-size=%d,900", width), "--dump-dom", "file://"+probed))
		m := regexp.MustCompile(`(?s)<pre id="probe">(.*?)</pre>`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("no probe result in the DOM at %d px (%d bytes)", width, len(dom))
		}
		var got probe
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil {
			t.Fatalf("probe: %v: %s", err, m[1])
		}
		t.Logf("browser saw at %d px: %+v", width, got)
		return got
	}
	wantCells := strings.Count(page, `<polygon class="cell`)
	wantPoints := strings.Count(page, `class="sweep-pt"`)
	for _, width := range []int{1400, 800} {
		got := measure(width)
		switch {
		case got.Maps < 3:
			t.Errorf("%d px: %d maps, want one at least per partner", width, got.Maps)
		case wantCells == 0 || got.Cells != wantCells || got.CellsShown != wantCells || got.CellsInside != wantCells:
			t.Errorf("%d px: map cells: %d drawn, %d with an area, %d inside their map; the page has %d", width, got.Cells, got.CellsShown, got.CellsInside, wantCells)
		case got.Fill == "" || got.Fill == "none" || got.Fill == "rgb(0, 0, 0)":
			t.Errorf("%d px: map cells are filled with %q", width, got.Fill)
		case got.FitW < 0.5 && got.FitH < 0.5:
			t.Errorf("%d px: the first map's cells fill %.0f%% of its width and %.0f%% of its height: not fitted to the data", width, 100*got.FitW, 100*got.FitH)
		}
		if got.AllMaps == 0 || got.WithLand != got.AllMaps || got.LandPainted != got.AllMaps || got.WithScale != got.AllMaps || got.WithNorth != got.AllMaps {
			t.Errorf("%d px: of %d maps, %d have a base map (%d painted), %d a scale bar and %d a north arrow inside them",
				width, got.AllMaps, got.WithLand, got.LandPainted, got.WithScale, got.WithNorth)
		}
		if got.Suppressed == 0 {
			t.Errorf("%d px: no suppressed volume drawn", width)
		}
		// Two charts per partner, 5 k × 4 resolution pairs × 3 windows points each (the
		// area chart has no point for a policy that releases nothing).
		if got.Charts != 6 || wantPoints < 3*60 || got.Points != wantPoints || got.Configured != 6 {
			t.Errorf("%d px: sweep: %d charts, %d of %d points shown, %d configured markers; want 6 charts, at least 180 points, 6 markers",
				width, got.Charts, got.Points, wantPoints, got.Configured)
		}
		if got.TimeCharts != 6 || got.TimeBars != 3*(24+7) || got.TimeBarsShown < 3*(12+7) || got.TimeBarsOut > 0 {
			t.Errorf("%d px: %d time charts with %d bars, %d shown, %d outside their chart; want 6 with %d, none outside",
				width, got.TimeCharts, got.TimeBars, got.TimeBarsShown, got.TimeBarsOut, 3*(24+7))
		}
		if got.AttackRows < 3*10 || !strings.Contains(got.AttackText, "Picking out a record") || !strings.Contains(got.AttackText, "Unicity") ||
			!strings.Contains(got.AttackText, "Home inference") || !strings.Contains(got.AttackText, "baseline") {
			t.Errorf("%d px: attack tables: %d rows shown; first table reads:\n%s", width, got.AttackRows, got.AttackText)
		}
		// Names in the glance table (3) and in the colluding partners' pairs (3 × 2).
		if got.Names != 3+6 || len(got.BrokenNames) > 0 {
			t.Errorf("%d px: of %d partner names, broken over lines: %q", width, got.Names, got.BrokenNames)
		}
		if want := []string{"released", "below_k", "contribution_cap", "sensitive_category", "check-ins (volume)"}; got.EmptyLegend > 0 ||
			len(got.TimeLegend) != 3*len(want) || !slices.Equal(got.TimeLegend[:len(want)], want) {
			t.Errorf("%d px: %d legend entries without a label; time legends read %q, want %q for each partner", width, got.EmptyLegend, got.TimeLegend, want)
		}
		if got.ScrollWidth > width || len(got.Overflow) > 0 || len(got.Cut) > 0 {
			t.Errorf("%d px: the page is %d px wide; wider than their card: %q; cut at the edge: %q", width, got.ScrollWidth, got.Overflow, got.Cut)
		}
	}

	// The first map, painted: a screenshot tall enough to hold it has pixels of the
	// released palette (blue-green, YlGnBu) and of the suppressed hatching (orange).
	shot := filepath.Join(dir, "report.png")
	browse("--screenshot="+shot, "--window-size=1400,2400", "file://"+reportPath)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	blue, orange := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			switch {
			case bl > r+60 && g > r:
				blue++
			case r > bl+80 && r > 180 && g < r:
				orange++
			}
		}
	}
	if blue < 2000 || orange < 300 {
		t.Errorf("screenshot has %d blue and %d orange sampled pixels: the map is not painted", blue, orange)
	}
	if out := os.Getenv("GEOCLOAK_REPORT_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, must(os.ReadFile(shot)), 0o644); err != nil {
			t.Error(err)
		}
	}

	// Printed: every sweep row is on paper (no table cut to its screen height), and each
	// chart's title and axis label are on one page (no chart split by a page break).
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("GEOCLOAK_REQUIRE_CHROMIUM") != "" {
			t.Fatal("pdftotext not installed (apt-get install -y poppler-utils): the print layout must be checked")
		}
		t.Log("pdftotext not installed (apt-get install -y poppler-utils): print layout not checked")
		return
	}
	pdf := filepath.Join(dir, "report.pdf")
	browse("--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+reportPath)
	text, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	rows := regexp.MustCompile(`(?m)^\s*(configured|\(same\))?\s*(15m|1h|4h)\s+\d+\.\.\d+\s+\d+\s+[0-9,]+\s+[0-9.]+%`).FindAllString(string(text), -1)
	if len(rows) != 3*61 {
		t.Errorf("printed: %d sweep rows, want %d", len(rows), 3*61)
	}
	pages := strings.Split(string(text), "\f")
	for _, title := range []string{"Release rate (released / events in) against k", "Mean released cell area (check-in weighted) against k"} {
		n := 0
		for _, pg := range pages {
			if i := strings.Index(pg, title); i >= 0 {
				n++
				if !strings.Contains(pg[i:], "k (log scale)") {
					t.Errorf("printed: chart %q split by a page break", title)
				}
			}
		}
		if n != 3 {
			t.Errorf("printed: chart %q on %d pages, want 3", title, n)
		}
	}
	// No heading ends a page: each is on the page of what it introduces.
	for heading, follows := range map[string][]string{
		"Where data is released and where it is suppressed":  {"Area 1, around"},
		"When k is not met: release and suppression by time": {"By hour of the day", "By day of the week", "sensitive_category"},
		"Threshold sweep: what each setting costs":           {"What to change"},
		"What an attacker could still do":                    {"how to read it"},
	} {
		n := 0
		for _, pg := range pages {
			i := strings.Index(pg, heading)
			if i < 0 {
				continue
			}
			n++
			for _, f := range follows {
				if !strings.Contains(pg[i:], f) {
					t.Errorf("printed: %q ends a page without %q", heading, f)
				}
			}
		}
		if n != 3 {
			t.Errorf("printed: heading %q on %d pages, want 3", heading, n)
		}
	}
}

// dpConfig writes the city config with differential privacy on metro-insights (counts
// mode) and returns its path.
func dpConfig(t *testing.T) string {
	t.Helper()
	cfg := string(must(os.ReadFile(cityConfig)))
	// A dp partner at one resolution (epsilon <= 1) may build classes of its own.
	const anchor = "    mode: counts\n    k: 10\n    max_resolution: 9\n"
	if !strings.Contains(cfg, anchor) {
		t.Fatalf("%s has no counts partner with k 10 and max_resolution 9 to add dp to", cityConfig)
	}
	cfg = strings.Replace(cfg, anchor, "    mode: counts\n    k: 10\n    max_resolution: 5\n    dp: {epsilon: 0.5, delta: 1e-3}\n", 1)
	path := filepath.Join(t.TempDir(), "dp.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// For a dp partner the noise is random: the sweep's configured policy is the summary's
// own figures on the same page, not a second draw.
func TestReportDPSweepMatchesSummary(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	reportPath := filepath.Join(t.TempDir(), "report.html")
	if _, _, err := geocloak(t, "evaluate", "--config", dpConfig(t), "--input", smallCity(t), "--quiet", "--report", reportPath); err != nil {
		t.Fatal(err)
	}
	page := string(must(os.ReadFile(reportPath)))
	sections := strings.Split(page, `<section class="partner"`)[1:]
	if len(sections) != 3 {
		t.Fatalf("%d partner sections, want 3", len(sections))
	}
	summary := regexp.MustCompile(`<tr><td>released</td><td class="n">([0-9,]+)</td>`)
	// Configured rows, and rows with the configured settings (window 1h, the partner's
	// resolutions and k), of the sweep table.
	rows := regexp.MustCompile(`<tr class="configured[^"]*"><td>[^<]*</td><td>1h</td><td>(\d+\.\.\d+)</td><td class="n">(\d+)</td><td class="n">([0-9,]+)</td>`)
	for i, sec := range sections {
		s := summary.FindStringSubmatch(sec)
		r := rows.FindAllStringSubmatch(sec, -1)
		if s == nil || len(r) == 0 {
			t.Fatalf("partner %d: summary %v, configured sweep rows %v", i, s, r)
		}
		for _, row := range r {
			if row[3] != s[1] {
				t.Errorf("partner %d: summary releases %s, sweep row (%s, k %s) %s", i, s[1], row[1], row[2], row[3])
			}
		}
	}
	if !strings.Contains(sections[1], "dp") {
		t.Error("metro-insights is not shown with dp")
	}
}

// --basemap draws a reviewer's layer on the maps; a bad file fails before the
// evaluation with an error that names the file and the problem.
func TestReportBasemapFlag(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	dir := t.TempDir()
	input := smallCity(t)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A road across the bundled city (Lyon).
	good := write("roads.geojson", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},
		"geometry":{"type":"LineString","coordinates":[[4.70,45.60],[4.85,45.76],[5.00,45.90]]}}]}`)
	reportPath := filepath.Join(dir, "report.html")
	if _, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", input, "--quiet", "--report", reportPath, "--basemap", good); err != nil {
		t.Fatal(err)
	}
	page := string(must(os.ReadFile(reportPath)))
	if n := strings.Count(page, `<path class="user-layer" d="M`); n < 3 {
		t.Errorf("the layer is drawn on %d maps, want one at least per partner", n)
	}
	if !strings.Contains(page, "grey lines: roads.geojson") {
		t.Error("the layer is not named on the page")
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"swapped.geojson", `{"type":"LineString","coordinates":[[45.7,4.8],[45.8,104.9]]}`, "is not [longitude, latitude]"},
		{"points.geojson", `{"type":"Feature","geometry":{"type":"Point","coordinates":[4.8,45.7]}}`, "no line or polygon"},
		{"broken.geojson", `{"type":"FeatureCollection","features":[`, "not GeoJSON"},
	} {
		_, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", input, "--quiet", "--report", reportPath,
			"--basemap", write(tc.name, tc.content))
		if err == nil || !strings.Contains(err.Error(), "--basemap "+filepath.Join(dir, tc.name)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want the file and %q", tc.name, err, tc.want)
		}
	}
	if _, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", input, "--basemap", good); err == nil || !strings.Contains(err.Error(), "needs --report") {
		t.Errorf("--basemap without --report: err = %v", err)
	}
	if _, _, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", input, "--report", reportPath, "--basemap", filepath.Join(dir, "none.geojson")); err == nil || !strings.Contains(err.Error(), "--basemap") {
		t.Errorf("missing file: err = %v", err)
	}
}
