package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
	"github.com/geocloak/geocloak/report"
	"github.com/geocloak/geocloak/report/basemap"
)

func (e *env) evaluate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfgPath := fs.String("config", "", "config `FILE` (YAML)")
	input := fs.String("input", "", "check-ins, JSONL, plain or gzip (`FILE`, or - for stdin)")
	audit := fs.String("audit", "", "write one audit line per input event per partner to `FILE`")
	outDir := fs.String("out", "", "write `DIR`/<partner>.jsonl, exactly the records each partner topic would get")
	workers := fs.Int("workers", 0, "decoding goroutines (0: one per CPU); the result does not depend on it")
	quiet := fs.Bool("quiet", false, "no progress and no info log lines (the sweep's and the report's); warnings and the summary stay")
	reportPath := fs.String("report", "", "write the privacy reviewer's report to `FILE.html` (self-contained: maps, threshold sweep, attack figures)")
	geojsonPath := fs.String("geojson", "", "write the released cells, per partner, with their check-ins as GeoJSON to `FILE`")
	basemapPath := fs.String("basemap", "", "with --report: draw the reviewer's own layer (roads, districts) from `FILE.geojson` as lines on every area map")
	sweep := fs.Bool("sweep", false, "after the summary, print the threshold sweep table (k, resolutions, window) without HTML")
	partitions := fs.Int("partitions", 0, "judge lateness as the stream does on a raw topic of `N` partitions keyed by user id (0: on the file as a whole)")
	alternatives := fs.Bool("alternatives", false, "the partners are alternative policies to compare, not partners of one stream: do not refuse sets of partners whose releases could be subtracted (config check and run still do)")
	partitioner := fs.String("partitioner", "crc32", "only with --partitions: the producer's partitioner: crc32 (kcat, librdkafka), murmur2 (Java clients), fnv1a (kafka-go Hash, Sarama)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: geocloak evaluate --config FILE --input FILE [--audit FILE] [--out DIR] [--report FILE.html [--basemap FILE.geojson]] [--geojson FILE] [--sweep]")
		fmt.Fprintln(e.stderr, "                         [--partitions N --partitioner crc32|murmur2|fnv1a] [--alternatives] [--workers N] [--quiet]")
		fmt.Fprintln(e.stderr, "Runs the release engine on a file and prints a per-partner summary.")
		fmt.Fprintln(e.stderr, "Memory is bounded by the open windows, except: with --report or --geojson a compact copy of")
		fmt.Fprintln(e.stderr, "every check-in is kept (about 24 bytes plus 4 per partner); with --report or --sweep the")
		fmt.Fprintln(e.stderr, "whole input file is held in memory too, because the threshold sweep runs the engine on it")
		fmt.Fprintln(e.stderr, "again (k, resolutions and window varied for every partner).")
		fs.PrintDefaults()
	}
	if help, err := e.parseFlags(fs, args); help || err != nil {
		return err
	}
	if *cfgPath == "" || *input == "" {
		return usageError{"evaluate needs --config FILE and --input FILE (geocloak evaluate -h lists every flag)"}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *partitions < 0 {
		return usageError{fmt.Sprintf("--partitions %d: want 0 (the file as a whole) or more", *partitions)}
	}
	if set := flagSet(fs); set["partitioner"] && !set["partitions"] {
		return usageError{"--partitioner applies with --partitions N (the raw topic's partition count)"}
	}
	if !slices.Contains(pipeline.Partitioners(), *partitioner) {
		return usageError{fmt.Sprintf("--partitioner %q: want one of %s", *partitioner, strings.Join(pipeline.Partitioners(), ", "))}
	}
	if *basemapPath != "" && *reportPath == "" {
		return usageError{"--basemap draws on the report's maps: it needs --report"}
	}
	load := config.Load
	if *alternatives {
		load = config.LoadAlternatives
	}
	cfg, err := load(*cfgPath)
	if err != nil {
		return alternativesHint(err, *cfgPath, "add --alternatives")
	}
	// The reviewer's layer is read before the evaluation, so that a bad file fails at once.
	var userLayer *basemap.Layer
	if *basemapPath != "" {
		if userLayer, err = readBasemap(*basemapPath); err != nil {
			return err
		}
	}
	key, err := e.pseudonymKey(cfg)
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		in = f
	}
	// The sweep runs the engine on the input again for every policy: keep it (as read,
	// compressed or not) in memory.
	needSweep := *reportPath != "" || *sweep
	var data []byte
	if needSweep {
		if data, err = io.ReadAll(in); err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		in = bytes.NewReader(data)
	}

	policies := cloak.NewPolicies(cfg)
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	create := func(path string) (io.Writer, error) {
		f, err := createFile(path)
		if err != nil {
			return nil, err
		}
		closers = append(closers, f.Close)
		return f, nil
	}
	partnerOut := make([]io.Writer, len(policies))
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return fmt.Errorf("make output directory: %w", err)
		}
		for i, p := range policies {
			if partnerOut[i], err = create(filepath.Join(*outDir, p.Name+".jsonl")); err != nil {
				return fmt.Errorf("partner output: %w", err)
			}
		}
	}
	var auditOut io.Writer
	if *audit != "" {
		if auditOut, err = create(*audit); err != nil {
			return fmt.Errorf("audit output: %w", err)
		}
	}
	out := cloak.NewWriterOutput(policies, partnerOut, auditOut)
	var engineOut cloak.Output = out
	var collector *report.Collector
	if *reportPath != "" || *geojsonPath != "" {
		collector = report.NewCollector(len(policies), out)
		engineOut = collector
	}

	// One wall clock for input.max_future, shared with the sweep so that its configured
	// points are exactly this evaluation.
	now := time.Now()
	opt := cloak.EvalOptions{Config: cfg, Key: key, Workers: *workers, KeepIDs: auditOut != nil, Now: now,
		Partitions: *partitions}
	if *partitions > 0 {
		if opt.Partition, err = pipeline.Partitioner(*partitioner, *partitions); err != nil {
			return usageError{"--partitioner: " + err.Error()}
		}
	}
	showProgress := !*quiet
	tty := isTerminal(e.stderr)
	var lastLog time.Time
	opt.Progress = func(p cloak.Progress) {
		if !showProgress {
			return
		}
		rate := float64(p.Lines) / p.Elapsed.Seconds()
		if tty {
			fmt.Fprintf(e.stderr, "\r%s check-ins, %s/s, %d windows open holding %s events ",
				report.Thousands(p.Lines), report.Thousands(int64(rate)), p.Open, report.Thousands(int64(p.Buffered)))
			return
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			e.log.Info().Int64("checkins", p.Lines).Int64("per_second", int64(rate)).Int("windows_open", p.Open).
				Int("events_buffered", p.Buffered).Msg("evaluate progress")
		}
	}
	sum, err := cloak.Evaluate(ctx, in, opt, engineOut)
	if showProgress && tty {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	for _, c := range closers {
		if err := c(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	closers = nil
	printSummary(e.stdout, cfg, sum)
	if sum.Lines > 0 && sum.Invalid == sum.Lines {
		fmt.Fprintf(e.stdout, "\nnote: every record of %s was invalid (most: %s): is it a check-in file, one JSON object per\n"+
			"line with the fields input.fields names? (README: Input, records and audit lines)\n", *input, sum.InvalidByCount()[0])
	}
	if sum.Late > 0 && *partitions == 0 {
		fmt.Fprintf(e.stdout, "\nnote: %s check-ins were late in the file's order. The stream judges lateness per raw partition, on\n"+
			"each partition's own order; to reproduce a replay through Kafka exactly, add --partitions N (the raw\n"+
			"topic's) and --partitioner (crc32 for kcat, murmur2 for Java clients, fnv1a for kafka-go's Hash).\n", report.Thousands(sum.Late))
	}
	if collector == nil && !needSweep {
		return nil
	}
	return e.writeReport(ctx, reportOptions{cfg: cfg, key: key, now: now, sum: sum, collector: collector, input: data,
		source: *input, reportPath: *reportPath, basemap: userLayer, geojsonPath: *geojsonPath, sweep: *sweep, quiet: *quiet})
}

type reportOptions struct {
	cfg                     *config.Config
	key                     cloak.Key
	now                     time.Time
	sum                     *cloak.Summary
	collector               *report.Collector // nil without --report and --geojson
	input                   []byte            // the whole input, for the sweep; nil without one
	source                  string
	basemap                 *basemap.Layer // --basemap; nil: none
	reportPath, geojsonPath string
	sweep, quiet            bool
}

// writeReport runs the sweep when asked for, then writes the report, the GeoJSON and the
// sweep table.
func (e *env) writeReport(ctx context.Context, o reportOptions) error {
	start := time.Now()
	var sw *report.Sweep
	if o.input != nil {
		if !o.quiet {
			e.log.Info().Msg("threshold sweep started")
		}
		var err error
		// The configured points are this evaluation's figures: with dp, a run of their own
		// would draw other noise.
		sw, err = report.RunSweep(ctx, o.input, report.SweepOptions{Config: o.cfg, Key: o.key, Now: o.now, Grid: report.DefaultGrid(), Summary: o.sum})
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		if !o.quiet {
			e.log.Info().Int("runs", sw.Runs).Int("policies", len(sw.Points)).Str("took", sw.Elapsed.Round(time.Millisecond).String()).Msg("threshold sweep done")
		}
	}
	var rep *report.Report
	if o.collector != nil {
		source := ""
		if o.source != "-" {
			source = filepath.Base(o.source)
		}
		var err error
		if rep, err = report.Build(o.collector, report.Options{Config: o.cfg, Summary: o.sum, Sweep: sw, Source: source, Basemap: o.basemap}); err != nil {
			return err
		}
	}
	write := func(path string, what string, fn func(io.Writer) error) error {
		f, err := createFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if o.reportPath != "" {
		if err := write(o.reportPath, "write report", rep.WriteHTML); err != nil {
			return err
		}
	}
	if o.geojsonPath != "" {
		if err := write(o.geojsonPath, "write geojson", rep.WriteGeoJSON); err != nil {
			return err
		}
	}
	if o.sweep {
		fmt.Fprintln(e.stdout, "\nthreshold sweep (same engine, same input; every other setting as configured)")
		if err := sw.WriteText(e.stdout, o.cfg); err != nil {
			return fmt.Errorf("write sweep: %w", err)
		}
	}
	if !o.quiet && (o.reportPath != "" || o.geojsonPath != "") {
		e.log.Info().Str("report", o.reportPath).Str("geojson", o.geojsonPath).Str("took", time.Since(start).Round(time.Millisecond).String()).Msg("report written")
	}
	return nil
}

// readBasemap reads a reviewer's GeoJSON layer, named for its file.
func readBasemap(path string) (*basemap.Layer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--basemap: %w", err)
	}
	defer f.Close()
	l, err := basemap.ReadGeoJSON(f, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("--basemap %s: %w", path, err)
	}
	return l, nil
}

// pseudonymKey reads the key, warning loudly when it falls back to the development key.
func (e *env) pseudonymKey(cfg *config.Config) (cloak.Key, error) {
	secret, err := cfg.Pseudonym.ReadKey()
	key := cloak.Key(secret)
	if errors.Is(err, config.ErrDevKey) {
		e.log.Warn().Str("env", cfg.Pseudonym.KeyEnv).
			Msg("PSEUDONYM KEY NOT SET: using the public development key; pseudonyms can be recomputed by anyone. Set the variable before any real use.")
		return key, nil
	}
	return key, err
}
