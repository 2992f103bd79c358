package cloak

import (
	"bytes"
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/google/differential-privacy/go/v3/stattestutils"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
)

// dpPolicy is a counts partner with dp on one fixed resolution, so that a window of
// users in one cell makes exactly one class.
func dpPolicy(t *testing.T, k int, eps, delta float64) *config.Config {
	t.Helper()
	cfg := config.Default()
	p := config.DefaultPartner()
	p.Name, p.Topic, p.Mode, p.K = "dp", "t.dp", config.ModeCounts, k
	p.MaxResolution, p.MinResolution = 9, 9
	p.Fields = config.DefaultFields(config.ModeCounts)
	p.DP = &config.DP{Epsilon: eps, Delta: delta}
	cfg.Partners = []config.Partner{p}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// releaseClass releases one window where users distinct users checked in once in one
// cell, and returns the class and whether it was released.
func releaseClass(r *Releaser, users int) (Class, bool) {
	c, _ := geo.CellOf(geo.Point{Lat: 45.764, Lng: 4.8357}, 9)
	ws := NewWindows(3600_000, false)
	for u := range users {
		ws.Add(&Event{Cell: c, User: Pseudonym(u + 1), Time: 1_772_445_600_000 + int64(u)}, 0, int64(u), "")
	}
	closed := ws.Close(math.MaxInt64)
	if len(closed) == 0 {
		return Class{}, false
	}
	rel := r.Release(closed[0])
	pr := &rel.Partners[0]
	if len(pr.Classes) == 0 {
		return Class{}, false
	}
	return pr.Classes[0], !pr.Classes[0].DPDropped && pr.RecordCount() == 1
}

// The noise is present: released counts differ from the true counts, and vary.
func TestDPNoisePresent(t *testing.T) {
	cfg := dpPolicy(t, 5, 1, 1e-6)
	r := NewReleaser(NewPolicies(cfg), RecordKeySecret(Key(DevKey)))
	seen := make(map[int]bool)
	differ := 0
	for range 200 {
		cl, ok := releaseClass(r, 200)
		if !ok {
			t.Fatal("a class of 200 users was not released")
		}
		seen[cl.NoisyUsers] = true
		if cl.NoisyUsers != cl.Users {
			differ++
		}
		if cl.Users != 200 {
			t.Fatalf("true users %d", cl.Users)
		}
	}
	// P(noise = 0) is about 0.245 at this scale: about 151 of 200 differ; 100 is 7 standard deviations below.
	if differ < 100 || len(seen) < 10 {
		t.Errorf("noisy counts differ from the truth in %d of 200 releases, %d distinct values: noise missing?", differ, len(seen))
	}
}

// Thresholding holds: below k users nothing is ever released; what is released passes
// the library's threshold for delta.
func TestDPThresholding(t *testing.T) {
	const k, eps, delta = 10, 1.0, 1e-3
	cfg := dpPolicy(t, k, eps, delta)
	r := NewReleaser(NewPolicies(cfg), RecordKeySecret(Key(DevKey)))
	// The threshold on the user count: epsilon/2, L0 = L∞ = cap = 1, plus k - 1.
	thr, err := noise.Laplace().Threshold(1, 1, eps/2, 0, delta)
	if err != nil {
		t.Fatal(err)
	}
	threshold := int(math.Ceil(thr)) + k - 1
	for users := 1; users <= 40; users++ {
		for range 50 {
			cl, ok := releaseClass(r, users)
			if users < k && (ok || (cl != Class{} && !cl.DPDropped)) {
				t.Fatalf("a class of %d < k=%d users was released", users, k)
			}
			if ok && cl.NoisyUsers < threshold {
				t.Fatalf("released with a noisy count %d below the threshold %d", cl.NoisyUsers, threshold)
			}
		}
	}
}

// The noisy user count follows the library's documented distribution: Laplace noise of
// scale L0·L∞/ε (here 1·1/(ε/2)), unbiased. Checked on 20,000 releases: the sample mean
// within 5 standard errors of the truth, the sample variance within 10% of 2b².
func TestDPDistribution(t *testing.T) {
	const eps = 1.0
	cfg := dpPolicy(t, 5, eps, 1e-6)
	r := NewReleaser(NewPolicies(cfg), RecordKeySecret(Key(DevKey)))
	const truth, n = 500, 20000
	var xs []float64
	for range n {
		cl, ok := releaseClass(r, truth)
		if !ok {
			t.Fatal("a class of 500 users was not released")
		}
		xs = append(xs, float64(cl.NoisyUsers))
	}
	b := 1 / (eps / 2)
	wantVar := 2 * b * b
	mean, variance := stattestutils.SampleMean(xs), stattestutils.SampleVariance(xs)
	if se := math.Sqrt(wantVar / n); math.Abs(mean-truth) > 5*se {
		t.Errorf("mean %.3f, want %d ± %.3f", mean, truth, 5*se)
	}
	if math.Abs(variance-wantVar)/wantVar > 0.10 {
		t.Errorf("variance %.3f, want %.3f ± 10%%", variance, wantVar)
	}
	t.Logf("mean %.3f (truth %d), variance %.3f (Laplace 2b² = %.3f)", mean, truth, variance, wantVar)
}

// dpRelease evaluates the bundled region with one dp counts partner (24 h windows,
// epsilon 1, delta 1e-6, one check-in per user per window) and returns its stats.
func dpRelease(t *testing.T, lines []byte, k int) Stats {
	t.Helper()
	cfg := config.Default()
	cfg.Window.Size = config.Duration(24 * time.Hour)
	p := config.DefaultPartner()
	p.Name, p.Topic, p.Mode, p.K = "dp", "t.dp", config.ModeCounts, k
	p.MaxResolution, p.MinResolution = 8, 5
	p.Fields = config.DefaultFields(config.ModeCounts)
	p.DP = &config.DP{Epsilon: 1, Delta: 1e-6}
	cfg.Partners = []config.Partner{p}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sum, err := Evaluate(context.Background(), bytes.NewReader(lines), EvalOptions{Config: &cfg, Key: []byte("dp-test-pseudonym-key-0123456789")},
		NewWriterOutput(NewPolicies(&cfg), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	return sum.Partners[0].Stats
}

// A dp partner's classes are built for its noisy threshold plus a margin, so that they
// pass it: on the bundled region, k = 20 releases a useful share, few classes are dropped
// by the noise, and raising k never releases more (it raises the target).
func TestDPReleaseShrinksWithK(t *testing.T) {
	lines, err := os.ReadFile("../testdata/city.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	prev := math.MaxInt
	for _, k := range []int{20, 50, 80} {
		st := dpRelease(t, lines, k)
		t.Logf("k=%d: released %d of %d (%.1f%%), %d dropped by the noise", k, st.Released, st.In, 100*float64(st.Released)/float64(st.In), st.DPDropped)
		if k == 20 && st.Released*100 < 30*st.In {
			t.Errorf("k=20: %d of %d released, want at least 30%%", st.Released, st.In)
		}
		if st.DPDropped*20 > st.Released {
			t.Errorf("k=%d: %d check-ins dropped by the noise for %d released: classes are not built for the threshold", k, st.DPDropped, st.Released)
		}
		if st.Released > prev {
			t.Errorf("k=%d releases %d, more than the smaller k's %d", k, st.Released, prev)
		}
		prev = st.Released
	}
}
