package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

func (e *env) evaluate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfgPath := fs.String("config", "", "config `FILE` (YAML)")
	input := fs.String("input", "", "check-ins, JSONL, plain or gzip (`FILE`, or - for stdin)")
	audit := fs.String("audit", "", "write one audit line per input event per partner to `FILE`")
	outDir := fs.String("out", "", "write DIR/<partner>.jsonl, exactly the records each partner topic would get")
	workers := fs.Int("workers", 0, "decoding goroutines (0: one per CPU); the result does not depend on it")
	quiet := fs.Bool("quiet", false, "no progress line")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: geocloak evaluate --config FILE --input FILE [--audit FILE] [--out DIR]")
		fmt.Fprintln(e.stderr, "Runs the release engine on a file and prints a per-partner summary.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if *cfgPath == "" || *input == "" {
		fs.Usage()
		return usageError{"evaluate needs --config and --input"}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
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

	policies := pipeline.NewPolicies(cfg)
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	create := func(path string) (io.Writer, error) {
		f, err := os.Create(path)
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
	out := pipeline.NewWriterOutput(policies, partnerOut, auditOut)

	opt := pipeline.EvalOptions{Config: cfg, Key: key, Workers: *workers, KeepIDs: auditOut != nil}
	showProgress := !*quiet
	tty := isTerminal(e.stderr)
	var lastLog time.Time
	opt.Progress = func(p pipeline.Progress) {
		if !showProgress {
			return
		}
		rate := float64(p.Lines) / p.Elapsed.Seconds()
		if tty {
			fmt.Fprintf(e.stderr, "\r%s check-ins, %s/s, %d windows open holding %s events ",
				group(p.Lines), group(int64(rate)), p.Open, group(int64(p.Buffered)))
			return
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			e.log.Info().Int64("checkins", p.Lines).Float64("per_second", rate).Int("windows_open", p.Open).
				Int("events_buffered", p.Buffered).Msg("evaluate progress")
		}
	}
	sum, err := pipeline.Evaluate(ctx, in, opt, out)
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
	return nil
}

// pseudonymKey reads the key, warning loudly when it falls back to the development key.
func (e *env) pseudonymKey(cfg *config.Config) ([]byte, error) {
	key, err := pipeline.PseudonymKey(cfg.Pseudonym)
	if errors.Is(err, pipeline.ErrDevKey) {
		e.log.Warn().Str("env", cfg.Pseudonym.KeyEnv).
			Msg("PSEUDONYM KEY NOT SET: using the public development key; pseudonyms can be recomputed by anyone. Set the variable before any real use.")
		return key, nil
	}
	return key, err
}
