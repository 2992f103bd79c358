package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/report"
)

// printSummary writes evaluate's per-partner summary.
func printSummary(w io.Writer, cfg *config.Config, s *cloak.Summary) {
	fmt.Fprintf(w, "%s check-ins in %s (%s events/s); %s invalid, %s late; window %s, lateness %s\n",
		report.Thousands(s.Lines), s.Elapsed.Round(1e6), report.Thousands(int64(s.EventsPerSecond())), report.Thousands(s.Invalid), report.Thousands(s.Late),
		cfg.Window.Size, cfg.Window.AllowedLateness)
	if len(s.InvalidReasons) > 0 {
		fmt.Fprintln(w, "invalid records by reason:")
		for _, r := range s.InvalidByCount() {
			fmt.Fprintf(w, "  %8s  %s\n", report.Thousands(s.InvalidReasons[r]), r)
		}
	}
	for _, p := range s.Partners {
		pol := p.Policy
		fmt.Fprintf(w, "\npartner %s -> %s  (%s mode, k=%d, resolutions %d..%d)\n",
			pol.Name, pol.Topic, pol.Mode, pol.K, pol.MaxResolution, pol.MinResolution)
		row := func(label string, n int, share string) {
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-32s %10s %7s", label, report.Thousands(int64(n)), share), " "))
		}
		row("events in", p.In, "")
		row("released", p.Released, report.Percent(p.Released, p.In))
		row("suppressed", p.In-p.Released, report.Percent(p.In-p.Released, p.In))
		for r := cloak.NumReasons - 1; r > cloak.Released; r-- {
			row("  "+r.String(), p.Suppressed[r], report.Percent(p.Suppressed[r], p.In))
		}
		fmt.Fprintln(w, "  released by resolution (share of released)")
		for res := geo.MaxRes; res >= 0; res-- {
			if n := p.ByRes[res]; n > 0 {
				row(fmt.Sprintf("  res %2d (avg %s km²)", res, report.AreaText(geo.AvgAreaKm2(res))), n, report.Percent(n, p.Released))
			}
		}
		mean := "-"
		if p.Released > 0 {
			mean = report.AreaText(p.AreaKm2/float64(p.Released)) + " km²"
		}
		fmt.Fprintf(w, "  %-32s %s (check-in weighted)\n", "mean released cell area", mean)
		fmt.Fprintf(w, "  %-32s %s; smallest has %d distinct users (k=%d)\n", "classes released",
			report.Thousands(int64(p.Classes)), p.MinClassUsers, pol.K)
		if pol.Mode == config.ModeEvents && pol.Has("category") {
			fmt.Fprintf(w, "  %-32s %s; smallest has %d distinct users (k=%d)\n", "tuples released (with category)",
				report.Thousands(int64(p.Tuples)), p.MinTupleUsers, pol.K)
			row("released with a known category", p.Categorised, report.Percent(p.Categorised, p.Released))
			kept := p.KeptLeaf + p.KeptGroup
			row("  keep a category", kept, report.Percent(kept, p.Categorised))
			row("    their venue category", p.KeptLeaf, report.Percent(p.KeptLeaf, p.Categorised))
			row("    its group only", p.KeptGroup, report.Percent(p.KeptGroup, p.Categorised))
			if pol.LDiversity > 0 {
				row(fmt.Sprintf("  in classes l=%d withheld", pol.LDiversity), p.NoCategory, report.Percent(p.NoCategory, p.Released))
			}
		}
		if pol.DP != nil {
			if pol.MaxResolution == pol.MinResolution {
				fmt.Fprintf(w, "  %-32s %d distinct users (one resolution; noisy threshold %d)\n", "dp classes built for",
					p.Policy.KGen(), pol.Partner.DPThreshold())
			} else {
				fmt.Fprintf(w, "  %-32s %d distinct users (threshold %d + %d noise sd)\n", "dp classes built for",
					p.Policy.KGen(), pol.Partner.DPThreshold(), config.DPMargin)
			}
			row("of below_k: under the dp threshold", p.DPDropped, report.Percent(p.DPDropped, p.In))
			fmt.Fprintf(w, "  %-32s ε=%g per window (users ε/2, checkins ε/2), δ=%g; counts are noisy\n", "differential privacy", pol.DP.Epsilon, pol.DP.Delta)
		}
	}
}
