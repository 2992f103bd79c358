package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/pipeline"
)

// printSummary writes evaluate's per-partner summary.
func printSummary(w io.Writer, cfg *config.Config, s *pipeline.Summary) {
	fmt.Fprintf(w, "%s check-ins in %s (%s events/s); %s invalid, %s late; window %s, lateness %s\n",
		group(s.Lines), s.Elapsed.Round(1e6), group(int64(s.EventsPerSecond())), group(s.Invalid), group(s.Late),
		cfg.Window.Size, cfg.Window.AllowedLateness)
	if len(s.InvalidReasons) > 0 {
		reasons := make([]string, 0, len(s.InvalidReasons))
		for r := range s.InvalidReasons {
			reasons = append(reasons, r)
		}
		slices.SortFunc(reasons, func(a, b string) int {
			if d := s.InvalidReasons[b] - s.InvalidReasons[a]; d != 0 {
				return int(d)
			}
			return strings.Compare(a, b)
		})
		fmt.Fprintln(w, "invalid records by reason:")
		for _, r := range reasons {
			fmt.Fprintf(w, "  %8s  %s\n", group(s.InvalidReasons[r]), r)
		}
	}
	for _, p := range s.Partners {
		pol := p.Policy
		fmt.Fprintf(w, "\npartner %s -> %s  (%s mode, k=%d, resolutions %d..%d)\n",
			pol.Name, pol.Topic, pol.Mode, pol.K, pol.MaxResolution, pol.MinResolution)
		row := func(label string, n int, share string) {
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-32s %10s %7s", label, group(int64(n)), share), " "))
		}
		row("events in", p.In, "")
		row("released", p.Released, pct(p.Released, p.In))
		row("suppressed", p.In-p.Released, pct(p.In-p.Released, p.In))
		for r := pipeline.NumReasons - 1; r > pipeline.Released; r-- {
			row("  "+r.String(), p.Suppressed[r], pct(p.Suppressed[r], p.In))
		}
		fmt.Fprintln(w, "  released by resolution (share of released)")
		for res := geo.MaxRes; res >= 0; res-- {
			if n := p.ByRes[res]; n > 0 {
				row(fmt.Sprintf("  res %2d (avg %s km²)", res, area(geo.AvgAreaKm2(res))), n, pct(n, p.Released))
			}
		}
		mean := "-"
		if p.Released > 0 {
			mean = area(p.AreaKm2/float64(p.Released)) + " km²"
		}
		fmt.Fprintf(w, "  %-32s %s (check-in weighted)\n", "mean released cell area", mean)
		fmt.Fprintf(w, "  %-32s %s; smallest has %d distinct users (k=%d)\n", "classes released",
			group(int64(p.Classes)), p.MinClassUsers, pol.K)
		if pol.LDiversity > 0 {
			row(fmt.Sprintf("released without category (l=%d)", pol.LDiversity), p.NoCategory, pct(p.NoCategory, p.Released))
		}
		if pol.DP != nil {
			row("of below_k: under the dp threshold", p.DPDropped, pct(p.DPDropped, p.In))
			fmt.Fprintf(w, "  %-32s ε=%g per window (users ε/2, checkins ε/2), δ=%g; counts are noisy\n", "differential privacy", pol.DP.Epsilon, pol.DP.Delta)
		}
	}
}

func pct(n, of int) string {
	if of == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + "%"
}

func area(km2 float64) string {
	switch {
	case km2 >= 100:
		return strconv.FormatFloat(km2, 'f', 0, 64)
	case km2 >= 1:
		return strconv.FormatFloat(km2, 'f', 1, 64)
	default:
		return strconv.FormatFloat(km2, 'f', 3, 64)
	}
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
