package report

import (
	"slices"
	"strings"
	"testing"

	"github.com/geocloak/geocloak/cloak"
)

// Every outcome of the time view has a name in its legend and in the bars' titles: the
// released share too, whose audit reason name is empty.
func TestTimeLegend(t *testing.T) {
	var tp TimeProfile
	tp.Hours[3] = Outcomes{In: 10}
	tp.Hours[3].ByReason[cloak.Released] = 6
	tp.Hours[3].ByReason[cloak.BelowK] = 4
	tv := buildTimeView(&tp)
	var labels []string
	for _, l := range tv.Legend {
		labels = append(labels, l.Label)
	}
	if want := []string{"released", "below_k", "contribution_cap", "sensitive_category"}; !slices.Equal(labels, want) {
		t.Errorf("legend %q, want %q", labels, want)
	}
	if got := tv.Hours.Bars[3].Title; !strings.Contains(got, "60.0% released") || !strings.Contains(got, "below_k 40.0%") {
		t.Errorf("bar title %q", got)
	}
}
