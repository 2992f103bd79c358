package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/geo"
	"github.com/geocloak/geocloak/report"
)

// configCheck validates a config file and prints the effective policy per partner: what
// a privacy reviewer signs off.
func (e *env) configCheck(args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(e.stdout, "usage: geocloak config check FILE\nValidates a config and prints the effective policy per partner, or every problem with its key path.")
		return nil
	}
	if len(args) != 1 {
		return usageError{"usage: geocloak config check FILE"}
	}
	cfg, err := config.Load(args[0])
	if err != nil {
		return alternativesHint(err, args[0], "use `geocloak evaluate --alternatives`")
	}
	// The key is read as the job would read it, to report its state, never its value.
	_, keyErr := cfg.Pseudonym.ReadKey()
	keyState := "set"
	switch {
	case errors.Is(keyErr, config.ErrDevKey):
		keyState = "NOT SET: the public development key would be used"
		keyErr = nil // not an error here: evaluate and demo use the development key, run refuses it
	case keyErr != nil:
		keyState = "UNUSABLE: " + keyErr.Error()
	}
	w := e.stdout
	if keyErr != nil {
		fmt.Fprintf(w, "config %s: valid, but its pseudonym key is unusable here: %v\n\n", args[0], keyErr)
	} else {
		fmt.Fprintf(w, "config %s: valid\n\n", args[0])
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "window\t%s tumbling, event time; allowed lateness %s; idle partitions advance after %s\n",
		cfg.Window.Size, cfg.Window.AllowedLateness, cfg.Window.IdleAdvance)
	fmt.Fprintf(tw, "watermark\tmoves to a time once %d distinct users of a raw partition have reached it\n", cfg.Window.WatermarkUsers)
	f := cfg.Input.Fields
	fmt.Fprintf(tw, "input fields\tuser_id=%s lat=%s lng=%s time=%s category=%s event_id=%s (all other fields dropped)\n",
		f.UserID, f.Lat, f.Lng, f.Time, orNone(f.Category), orNone(f.EventID))
	fmt.Fprintf(tw, "input limits\ttime format %s; not before %s; at most %s in the future; records up to %d bytes\n",
		cfg.Input.TimeFormat, cfg.Input.NotBefore.Format("2006-01-02T15:04:05Z07:00"), cfg.Input.MaxFuture, cfg.Input.MaxRecordBytes)
	keySource := "$" + cfg.Pseudonym.KeyEnv
	if cfg.Pseudonym.KeyFile != "" {
		keySource = "file " + cfg.Pseudonym.KeyFile
	}
	fmt.Fprintf(tw, "pseudonym key\tfrom %s (%s)\n", keySource, keyState)
	brokers := "embedded broker on 127.0.0.1:9092"
	if len(cfg.Kafka.Brokers) > 0 {
		brokers = strings.Join(cfg.Kafka.Brokers, ", ")
	}
	fmt.Fprintf(tw, "kafka\t%s; in %s, internal %s, dead letters %s, group %s\n",
		brokers, cfg.Kafka.InputTopic, cfg.Kafka.InternalTopic, cfg.Kafka.DeadLetterTopic, cfg.Kafka.GroupID)
	fmt.Fprintf(tw, "cells\tevery check-in's cell at res %d (cell_resolution; released cells are its ancestors); internal topic keyed at res %d (%s km² avg)\n",
		cfg.CellResolution, cfg.PartitionResolution, report.AreaText(geo.AvgAreaKm2(cfg.PartitionResolution)))
	tax := cfg.Taxonomy()
	var sensitive []string
	for _, g := range tax.Groups {
		if g.Sensitive {
			sensitive = append(sensitive, g.ID)
		}
	}
	fmt.Fprintf(tw, "taxonomy\t%s: %d groups, %d category names; sensitive groups (suppressed unless a partner opts in): %s\n",
		tax.Source, len(tax.Groups), tax.Leaves(), strings.Join(sensitive, ", "))
	tw.Flush()
	for _, p := range cfg.Partners {
		fmt.Fprintf(w, "\npartner %s -> topic %s\n", p.Name, p.Topic)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  mode\t%s\n", p.Mode)
		switch {
		case p.Mode == config.ModeEvents && p.Has("category"):
			fmt.Fprintf(tw, "  k\t%d distinct users behind every released tuple (window, cell, resolution, category as shown)\n", p.K)
		case p.Mode == config.ModeEvents:
			fmt.Fprintf(tw, "  k\t%d distinct users behind every released class (window, cell, resolution)\n", p.K)
		default:
			fmt.Fprintf(tw, "  k\t%d distinct users behind every released count (window, cell, resolution)\n", p.K)
		}
		if p.MaxResolution == p.MinResolution {
			fmt.Fprintf(tw, "  resolutions\t%d (%s km² avg) only; check-ins of cells with fewer users: suppressed\n",
				p.MinResolution, report.AreaText(geo.AvgAreaKm2(p.MinResolution)))
		} else {
			fmt.Fprintf(tw, "  resolutions\t%d (%s km² avg) down to %d (%s km² avg); coarser than that: suppressed\n",
				p.MaxResolution, report.AreaText(geo.AvgAreaKm2(p.MaxResolution)), p.MinResolution, report.AreaText(geo.AvgAreaKm2(p.MinResolution)))
		}
		fmt.Fprintf(tw, "  fields\t%s\n", strings.Join(p.Fields, ", "))
		if p.Mode == config.ModeEvents && p.Has("category") {
			fmt.Fprintf(tw, "  categories\ta record shows its category, else its group, when %d users of its class share it; else none\n", p.K)
			ld := "off"
			if p.LDiversity > 0 {
				ld = fmt.Sprintf("a class that shows categories shows at least %d distinct ones, else none", p.LDiversity)
			}
			fmt.Fprintf(tw, "  l-diversity\t%s\n", ld)
		}
		fmt.Fprintf(tw, "  suppressed categories\tsensitive groups not opted in (released: %s); and %s\n",
			orNone(strings.Join(p.ReleaseSensitiveGroups, ", ")), orNone(strings.Join(p.SuppressCategories, ", ")))
		capText := "none"
		if p.MaxCheckinsPerUserPerWindow > 0 {
			capText = fmt.Sprintf("%d check-in(s) per user per window (earliest kept)", p.MaxCheckinsPerUserPerWindow)
		}
		fmt.Fprintf(tw, "  contribution cap\t%s\n", capText)
		fmt.Fprintf(tw, "  generalization\t%s\n", p.Generalization)
		if d := p.DP; d != nil {
			fmt.Fprintf(tw, "  differential privacy\tε=%g, δ=%g per user, window and partition cell; Laplace noise on users (ε/2) and checkins (ε/2)\n", d.Epsilon, d.Delta)
			built := "one resolution: classes are the cells of k users"
			if p.ClassK() != p.K {
				built = fmt.Sprintf("classes are built for %d users (threshold + %d noise sd)", p.ClassK(), config.DPMargin)
			}
			fmt.Fprintf(tw, "  dp threshold\ta class needs k=%d true users and a noisy user count >= %d (noise sd %.1f); %s\n",
				p.K, p.DPThreshold(), p.DPNoiseSD(), built)
			perDay := float64(24*time.Hour) / float64(cfg.Window.Size.D())
			fmt.Fprintf(tw, "  dp budget per day\tε=%.3g, δ=%.2g for a user active in all %.0f windows of a day in one partition cell "+
				"(basic composition); more for a user in several partition cells\n", d.Epsilon*perDay, d.Delta*perDay, perDay)
		}
		tw.Flush()
	}
	if ws := cfg.Warnings(); len(ws) > 0 {
		fmt.Fprintln(w, "\nwarnings (valid, but weaker privacy):")
		for _, x := range ws {
			fmt.Fprintf(w, "  - %s\n", x)
		}
	}
	if keyErr != nil {
		// A preflight must fail where run would: exit status 1.
		return fmt.Errorf("%s is valid, but its pseudonym key is unusable here, and run and evaluate would refuse to start: %w", args[0], keyErr)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// alternativesHint adds to a config error what to do when the only problems are those of
// the partner set: every policy is valid on its own, and evaluate --alternatives
// compares them (how says what to write).
func alternativesHint(err error, path, how string) error {
	if _, alone := config.LoadAlternatives(path); alone != nil {
		return err
	}
	return fmt.Errorf("%w\n(each policy is valid on its own, but not next to the others on one stream; to compare them as "+
		"alternatives, %s)", err, how)
}
