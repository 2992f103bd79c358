package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

// runJob is `geocloak run`: the streaming job.
func (e *env) runJob(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfgPath := fs.String("config", "", "config `FILE` (YAML)")
	which := fs.String("stage", "all", "stage to run: all, ingest or cloak")
	dev := fs.Bool("dev", false, "allow the public development pseudonym key (local trials only)")
	opsListen := fs.String("ops-listen", "", "serve /metrics, /healthz, /readyz on `HOST:PORT` (empty: not at all); when not given: $"+opsListenEnv+" if set, else ops.listen")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: geocloak run --config FILE [--stage all|ingest|cloak] [--dev] [--ops-listen HOST:PORT]")
		fmt.Fprintln(e.stderr, "Runs the streaming job. With no kafka.brokers configured it starts the embedded broker on 127.0.0.1:9092.")
		fmt.Fprintln(e.stderr, "SIGINT/SIGTERM stop it gracefully (finish the round, commit, within 30 s); another signal a second")
		fmt.Fprintln(e.stderr, "or more after the first exits at once, without committing.")
		fs.PrintDefaults()
	}
	if help, err := e.parseFlags(fs, args); help || err != nil {
		return err
	}
	if *cfgPath == "" {
		fs.Usage()
		return usageError{"run needs --config"}
	}
	switch *which {
	case "all", "ingest", "cloak":
	default:
		return usageError{fmt.Sprintf("--stage %q: want all, ingest or cloak", *which)}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if err := overrideOpsListen(fs, cfg, *opsListen); err != nil {
		return err
	}
	logStartup(e.log, cfg, *which)
	logWarnings(e.log, cfg)
	// Ingest keys pseudonyms with it; the cloak, which never sees user ids, derives the
	// secret of the record keys of partners without cell from it.
	secret, err := cfg.Pseudonym.ReadKey()
	key := cloak.Key(secret)
	if errors.Is(err, config.ErrDevKey) {
		if !*dev {
			return fmt.Errorf("$%s is not set: refusing to run with the public development pseudonym key, "+
				"which would let anyone recompute pseudonyms (set the variable, or pass --dev for a local trial)", cfg.Pseudonym.KeyEnv)
		}
		e.log.Warn().Str("env", cfg.Pseudonym.KeyEnv).Msg("PSEUDONYM KEY NOT SET: --dev given, using the public development key; never do this with real data")
	} else if err != nil {
		return err
	}
	j, err := newJob(ctx, cfg, e.log, "127.0.0.1:9092")
	if err != nil {
		return err
	}
	defer j.close()
	if err := j.serveOps(cfg.Ops.Listen); err != nil {
		return err
	}
	return j.runStages(ctx, pipeline.StageOptions{Key: key}, *which, 30*time.Second)
}

// brokerCmd is `geocloak broker`: the embedded broker alone, for any Kafka client.
func (e *env) brokerCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	addr := fs.String("addr", "127.0.0.1:9092", "listen `HOST:PORT`")
	partitions := fs.Int("partitions", 4, "partitions of topics created on first use")
	retention := fs.Duration("retention", 0, "drop messages older than this (0: keep all)")
	dataDir := fs.String("data-dir", "", "keep topics, messages, committed offsets and groups in `DIR` across restarts (default: in memory only)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: geocloak broker [--addr HOST:PORT] [--partitions N] [--retention DURATION] [--data-dir DIR]")
		fmt.Fprintln(e.stderr, "Runs the embedded Kafka-protocol broker until interrupted: in memory, or in DIR with --data-dir")
		fmt.Fprintln(e.stderr, "(restarted with the same DIR and address, it has everything it had).")
		fs.PrintDefaults()
	}
	if help, err := e.parseFlags(fs, args); help || err != nil {
		return err
	}
	if *partitions < 1 {
		return usageError{"--partitions must be at least 1"}
	}
	var opts []kfake.Opt
	if *retention > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"log.retention.ms": strconv.FormatInt(retention.Milliseconds(), 10)}))
	}
	storage := "in memory"
	if *dataDir != "" {
		// Written as it changes (segments through the page cache, state files replaced
		// whole): a killed broker process loses nothing; a machine crash may lose the
		// last writes, as with Kafka's default flush settings.
		opts = append(opts, kfake.DataDir(*dataDir))
		storage = *dataDir
	}
	b, err := startBroker(*addr, *partitions, e.log, opts...)
	if err != nil {
		return err
	}
	defer b.Close()
	if *dataDir != "" {
		createPersistently(b)
	}
	if *retention > 0 {
		go func() {
			t := time.NewTicker(min(*retention/2, 10*time.Second))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					b.ApplyRetention()
				}
			}
		}()
	}
	e.log.Info().Strs("listen", b.ListenAddrs()).Int("partitions", *partitions).Str("storage", storage).
		Msg("embedded Kafka-protocol broker running (topics are created on first use); Ctrl-C stops it")
	fmt.Fprintf(e.stdout, "broker listening on %s\n", b.ListenAddrs()[0])
	<-ctx.Done()
	return nil
}
