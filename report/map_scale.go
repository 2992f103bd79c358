package report

import (
	"math"
	"slices"
	"strconv"
)

// Released volume: light to dark (YlGnBu), one colour per class.
var releasedPalette = []string{"#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#253494", "#081d58"}

// Suppressed volume: orange hatching, denser per class (patterns hatch0..hatch3).
const suppressedLevels = 4

// classScale puts values into classes at quantiles of the data: class i holds values in
// [edges[i-1], edges[i]) (class 0 below edges[0], the last from the last edge up). Each
// edge is a number of two significant digits just above its quantile, so that the
// legend reads well and the quantile's value is in the class below; classes that ties
// leave empty are merged.
type classScale struct {
	edges []float64
}

// quantileScale makes at most classes classes of about equal numbers of values.
func quantileScale(values []float64, classes int) classScale {
	v := slices.Clone(values)
	slices.Sort(v)
	var edges []float64
	for i := 1; i < classes && len(v) > 0; i++ {
		q := v[min(len(v)-1, int(math.Ceil(float64(i)*float64(len(v))/float64(classes)))-1)]
		e := roundSig(q, 2)
		if e <= q {
			e = sigAbove(q)
		}
		// Only an edge with values on both sides makes a class.
		if e <= v[len(v)-1] && (len(edges) == 0 || e > edges[len(edges)-1]) {
			edges = append(edges, e)
		}
	}
	return classScale{edges: edges}
}

// Classes is the number of classes.
func (s classScale) Classes() int { return len(s.edges) + 1 }

func (s classScale) class(x float64) int {
	i, found := slices.BinarySearch(s.edges, x)
	if found {
		return i + 1
	}
	return i
}

// color is the palette's colour of class i, the palette spread over the classes so that
// few classes still run from light to dark.
func (s classScale) color(i int) string {
	n := s.Classes()
	if n <= 1 {
		return releasedPalette[len(releasedPalette)/2]
	}
	return releasedPalette[(i*(len(releasedPalette)-1)+(n-1)/2)/(n-1)]
}

// hatch is the hatching of suppressed class i: the suppressed patterns spread over the
// classes.
func (s classScale) hatch(i int) int {
	n := s.Classes()
	if n <= 1 {
		return suppressedLevels / 2
	}
	return (i*(suppressedLevels-1) + (n-1)/2) / (n - 1)
}

// legendBin is one entry of a map legend.
type legendBin struct {
	Fill  string
	Label string
}

func (s classScale) legend(fill func(int) string) []legendBin {
	n := s.Classes()
	out := make([]legendBin, n)
	for i := range out {
		var label string
		switch {
		case n == 1:
			label = "all"
		case i == 0:
			label = "< " + sigText(s.edges[0])
		case i == n-1:
			label = "≥ " + sigText(s.edges[n-2])
		default:
			label = sigText(s.edges[i-1]) + "–" + sigText(s.edges[i])
		}
		out[i] = legendBin{Fill: fill(i), Label: label}
	}
	return out
}

// roundSig rounds x > 0 to d significant digits.
func roundSig(x float64, d int) float64 {
	if x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	p := math.Pow(10, float64(d)-math.Ceil(math.Log10(x)))
	return math.Round(x*p) / p
}

// sigAbove is the smallest number of two significant digits above x > 0.
func sigAbove(x float64) float64 {
	if x <= 0 {
		return 0.01
	}
	p := math.Pow(10, 2-math.Ceil(math.Log10(x)))
	if x*p >= 100 { // x a power of ten: log10 is whole
		p /= 10
	}
	return (math.Floor(x*p+1e-9) + 1) / p
}

// sigText writes a rounded value without float noise: thousands separated, small values
// with the decimals two significant digits need.
func sigText(x float64) string {
	if x >= 100 {
		return Thousands(int64(math.Round(x)))
	}
	if x <= 0 {
		return "0"
	}
	dec := max(0, 1-int(math.Floor(math.Log10(x))))
	return strconv.FormatFloat(x, 'f', dec, 64)
}
