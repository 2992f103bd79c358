package report

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
)

// Grid is what the sweep varies in each configured partner; every other setting stays
// as configured.
type Grid struct {
	K []int
	// Resolutions are (max_resolution, min_resolution) pairs. Pairs whose minimum is
	// below partition_resolution are left out: the engine cannot release them.
	Resolutions [][2]int
	Windows     []time.Duration
}

// DefaultGrid is 5 k × 4 resolution pairs × 3 window sizes: 60 policies per partner,
// which the engine evaluates on about 60,000 check-ins in a few seconds on two cores.
func DefaultGrid() Grid {
	return Grid{
		K:           []int{2, 5, 10, 20, 50},
		Resolutions: [][2]int{{9, 5}, {8, 5}, {10, 6}, {9, 4}},
		Windows:     []time.Duration{15 * time.Minute, time.Hour, 4 * time.Hour},
	}
}

// SweepPoint is one policy of the sweep and what the engine released under it.
type SweepPoint struct {
	Partner    int // index of the configured partner it varies
	K          int
	MaxRes     int
	MinRes     int
	Window     time.Duration
	Configured bool // the configured policy itself
	// FromSummary: the figures are the evaluation's own (SweepOptions.Summary), not a
	// run of the sweep.
	FromSummary bool
	cloak.Stats
}

// ReleaseRate is released / events in.
func (p *SweepPoint) ReleaseRate() float64 {
	if p.In == 0 {
		return 0
	}
	return float64(p.Released) / float64(p.In)
}

// MeanAreaKm2 is the check-in weighted mean area of released cells (NaN: none released).
func (p *SweepPoint) MeanAreaKm2() float64 {
	if p.Released == 0 {
		return math.NaN()
	}
	return p.AreaKm2 / float64(p.Released)
}

// Sweep is the outcome of a threshold sweep.
type Sweep struct {
	Grid Grid
	// Points, per partner in configuration order: the configured policy first, then the
	// grid by window, resolutions and k.
	Points []SweepPoint
	// Runs is the number of engine runs over the input (policies that share a window
	// size share a run).
	Runs    int
	Elapsed time.Duration
}

// SweepOptions configure RunSweep.
type SweepOptions struct {
	Config *config.Config
	Key    []byte
	// Now is the wall clock for input.max_future; give the one of the evaluation the
	// sweep accompanies, so that its configured points match.
	Now  time.Time
	Grid Grid
	// Parallel bounds the engine runs at once (0: GOMAXPROCS). Each run decodes on one
	// goroutine.
	Parallel int
	// Summary, when set, is the evaluation the sweep accompanies: the configured points,
	// and grid points with the configured settings, take its figures instead of a run of
	// their own. Without dp they are the same figures (the engine is deterministic); with
	// dp a second run would draw other noise, and the page would show two figures for one
	// policy.
	Summary *cloak.Summary
}

// RunSweep runs the engine over input (a whole JSONL file, plain or gzip) for every
// policy of the grid and the configured ones (unless opt.Summary gives their figures).
// Policies sharing a window size are evaluated in one run as partners of one
// configuration: the engine decides each partner on its own (cells are computed at
// cell_resolution whatever the partners), so the result is what that policy alone
// would get.
func RunSweep(ctx context.Context, input []byte, opt SweepOptions) (*Sweep, error) {
	cfg := opt.Config
	start := time.Now()
	type runKey struct {
		window time.Duration
	}
	runs := make(map[runKey][]int) // point indices
	var points []SweepPoint
	add := func(pt SweepPoint) {
		if sum := opt.Summary; sum != nil && pt.Partner < len(sum.Partners) {
			p := &cfg.Partners[pt.Partner]
			if pt.K == p.K && pt.MaxRes == p.MaxResolution && pt.MinRes == p.MinResolution && pt.Window == cfg.Window.Size.D() {
				pt.Stats, pt.FromSummary = sum.Partners[pt.Partner].Stats, true
				points = append(points, pt)
				return
			}
		}
		k := runKey{pt.Window}
		runs[k] = append(runs[k], len(points))
		points = append(points, pt)
	}
	for i, p := range cfg.Partners {
		add(SweepPoint{Partner: i, K: p.K, MaxRes: p.MaxResolution, MinRes: p.MinResolution,
			Window: cfg.Window.Size.D(), Configured: true})
		// The partner's own resolutions too, so that a change of k or window alone is
		// on the grid (for a dp partner at one resolution, the only changes that keep
		// its guarantee).
		pairs := opt.Grid.Resolutions
		if own := [2]int{p.MaxResolution, p.MinResolution}; !slices.Contains(pairs, own) {
			pairs = append(slices.Clone(pairs), own)
		}
		for _, w := range opt.Grid.Windows {
			for _, r := range pairs {
				if r[1] < cfg.PartitionResolution || r[1] > r[0] {
					continue
				}
				for _, k := range opt.Grid.K {
					add(SweepPoint{Partner: i, K: k, MaxRes: r[0], MinRes: r[1], Window: w})
				}
			}
		}
	}
	keys := make([]runKey, 0, len(runs))
	for k := range runs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b runKey) int {
		return cmp.Compare(a.window, b.window)
	})

	par := opt.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	for j, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[j] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := sweepRun(ctx, input, opt, k.window, points, runs[k]); err != nil {
				errs[j] = fmt.Errorf("sweep run (window %s): %w", k.window, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return &Sweep{Grid: opt.Grid, Points: points, Runs: len(keys), Elapsed: time.Since(start)}, nil
}

// sweepRun evaluates the points idx, which share a window, in one run.
func sweepRun(ctx context.Context, input []byte, opt SweepOptions, window time.Duration, points []SweepPoint, idx []int) error {
	run := *opt.Config
	run.Window.Size = config.Duration(window)
	run.Partners = nil
	for n, i := range idx {
		pt := &points[i]
		p := opt.Config.Partners[pt.Partner]
		p.Name = fmt.Sprintf("sweep-%d", n)
		p.Topic = "sweep." + p.Name
		p.K, p.MaxResolution, p.MinResolution = pt.K, pt.MaxRes, pt.MinRes
		run.Partners = append(run.Partners, p)
	}
	sum, err := cloak.Evaluate(ctx, bytes.NewReader(input),
		cloak.EvalOptions{Config: &run, Key: opt.Key, Now: opt.Now, Workers: 1}, discard{})
	if err != nil {
		return err
	}
	for n, i := range idx {
		points[i].Stats = sum.Partners[n].Stats
	}
	return nil
}

type discard struct{}

func (discard) Suppressed(string, cloak.Reason, string, *cloak.Window) error { return nil }
func (discard) Released(*cloak.Release) error                                { return nil }

// partnerPoints returns the points of partner p (configured first).
func (s *Sweep) partnerPoints(p int) []SweepPoint {
	var out []SweepPoint
	for _, pt := range s.Points {
		if pt.Partner == p {
			out = append(out, pt)
		}
	}
	return out
}
