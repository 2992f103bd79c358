package main

import (
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/geocloak/geocloak/synth"
)

func (e *env) synth(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	d := synth.DefaultConfig()
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same bytes")
	users := fs.Int("users", d.Users, "number of users")
	days := fs.Int("days", d.Days, "number of days")
	late := fs.Float64("late-fraction", 0, "fraction of check-ins delivered 20 to 90 minutes late")
	bad := fs.Float64("invalid-fraction", 0, "fraction of lines replaced by invalid records")
	out := fs.String("out", "-", "output `FILE` (- for stdout; a name ending in .gz is gzipped)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: geocloak synth [--seed N] [--users N] [--days N] [--late-fraction F] [--invalid-fraction F] [--out FILE]")
		fmt.Fprintln(e.stderr, "Writes the synthetic test city's check-ins as JSONL (deterministic).")
		fs.PrintDefaults()
	}
	if help, err := e.parseFlags(fs, args); help || err != nil {
		return err
	}
	cfg := d
	cfg.Seed, cfg.Users, cfg.Days, cfg.LateFraction, cfg.InvalidFraction = *seed, *users, *days, *late, *bad
	var w io.Writer = e.stdout
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = createFile(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	var zw *gzip.Writer
	if strings.HasSuffix(*out, ".gz") {
		zw = gzip.NewWriter(w)
		w = zw
	}
	n, err := synth.Generate(cfg, w)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	e.log.Info().Int("checkins", n).Msg("synthetic city written")
	return ctx.Err()
}
