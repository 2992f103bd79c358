package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
)

// WriteText writes the sweep as a table, one row per policy; the configured policy is
// marked with *.
func (s *Sweep) WriteText(w io.Writer, cfg *config.Config) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "partner\t\twindow\tres\tk\treleased\trate\tmean area km²\tbelow_k\tcap\tclasses\tsmallest\t\n")
	for _, pt := range s.Points {
		mark := ""
		if pt.Configured {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d..%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			cfg.Partners[pt.Partner].Name, mark, durationText(pt.Window), pt.MaxRes, pt.MinRes, pt.K,
			Thousands(int64(pt.Released)), Percent(pt.Released, pt.In), AreaText(pt.MeanAreaKm2()),
			Percent(pt.Suppressed[cloak.BelowK], pt.In), Percent(pt.Suppressed[cloak.ContributionCap], pt.In),
			Thousands(int64(pt.Classes)), dash(pt.MinClassUsers))
	}
	fmt.Fprintf(tw, "\n")
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "* configured policy. rate = released / events in; mean area is check-in weighted; "+
		"below_k and cap are shares of events in.\n")
	return err
}

func dash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// durationText prints whole hours and minutes without trailing zero units ("1h", "15m").
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
