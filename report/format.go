package report

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Thousands writes n with thousands separators.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Percent is n/of as a percentage with one decimal ("-" when of is 0).
func Percent(n, of int) string {
	if of == 0 {
		return "-"
	}
	return pctf(float64(n) / float64(of))
}

func pctf(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

// share is a share for attack figures: never rounded to 0% or 100% when it is not.
func share(n, of int) string {
	switch {
	case of == 0:
		return "-"
	case n > 0 && 1000*n < of:
		return "< 0.1%"
	case n < of && 1000*(of-n) < of:
		return "> 99.9%"
	}
	return Percent(n, of)
}

// AreaText writes km² with the precision the summary uses ("-" for NaN).
func AreaText(km2 float64) string {
	switch {
	case math.IsNaN(km2):
		return "-"
	case km2 >= 100:
		return strconv.FormatFloat(km2, 'f', 0, 64)
	case km2 >= 1:
		return strconv.FormatFloat(km2, 'f', 1, 64)
	default:
		return strconv.FormatFloat(km2, 'f', 3, 64)
	}
}

// fixed writes f with d decimals.
func fixed(f float64, d int) string { return strconv.FormatFloat(f, 'f', d, 64) }

func utc(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04 UTC") }
