package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
	"github.com/geocloak/geocloak/report"
	"github.com/geocloak/geocloak/synth"
)

// benchCmd is `geocloak bench`: throughput figures measured side by side in one run.
func (e *env) benchCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfgPath := fs.String("config", "testdata/city.yaml", "partner policies to run (`FILE`)")
	n := fs.Int("events", 300_000, "synthetic check-ins to move")
	engine := fs.Bool("engine", false, "measure the engine offline instead: the encoding/json floor against evaluate")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to `FILE`")
	soakFor := fs.Duration("soak", 0, "instead: stream synthetic check-ins through both stages for `DURATION`, reporting throughput and resident memory")
	rate := fs.Int("rate", 20000, "with --soak: check-ins per second offered")
	interval := fs.Duration("interval", 10*time.Second, "with --soak: time between samples")
	brokerAddr := fs.String("broker", "", "with --soak: use the broker at `HOST:PORT` instead of starting geocloak broker as a process")
	window := fs.Duration("window", 0, "override window.size (with --soak and a low --cap, to show the buffering cap at work)")
	capEvents := fs.Int("cap", 0, "override kafka.max_buffered_events")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: geocloak bench [--events N] [--engine] [--config FILE] [--cpuprofile FILE]")
		fmt.Fprintln(e.stderr, "       geocloak bench --soak DURATION [--rate N] [--interval D] [--window D] [--cap N] [--broker HOST:PORT]")
		fmt.Fprintln(e.stderr, "Measures, in one run on the embedded broker, a plain kafka-go passthrough (group reader to")
		fmt.Fprintln(e.stderr, "writer) and the pipeline end to end (raw topic to partner topics) on the same messages.")
		fmt.Fprintln(e.stderr, "With --engine: the floor (encoding/json + time + H3 per line) against evaluate, in memory.")
		fs.PrintDefaults()
	}
	if help, err := e.parseFlags(fs, args); help || err != nil {
		return err
	}
	if *n < 1000 {
		return usageError{"--events must be at least 1000"}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *window > 0 {
		cfg.Window.Size = config.Duration(*window)
	}
	if *capEvents > 0 {
		cfg.Kafka.MaxBufferedEvents = *capEvents
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *soakFor > 0 {
		if *rate < 100 || *interval <= 0 {
			return usageError{"--rate must be at least 100 and --interval positive"}
		}
		return e.soak(ctx, cfg, soakOptions{duration: *soakFor, rate: *rate, interval: *interval, broker: *brokerAddr})
	}
	lines, err := benchLines(*n)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "geocloak bench: %s synthetic check-ins, %d CPUs, %s\n", report.Thousands(int64(len(lines))), runtime.NumCPU(), runtime.Version())
	if *profile != "" {
		f, err := createFile(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *engine {
		return e.benchEngine(ctx, cfg, lines)
	}
	return e.benchKafka(ctx, cfg, lines)
}

// benchLines makes n check-ins of the synthetic city (enough days, then cut).
func benchLines(n int) ([][]byte, error) {
	sc := synth.DefaultConfig()
	sc.Days = n/8600 + 1
	var b bytes.Buffer
	if _, err := synth.Generate(sc, &b); err != nil {
		return nil, err
	}
	lines := bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n"))
	return lines[:min(n, len(lines))], nil
}

func (e *env) benchEngine(ctx context.Context, cfg *config.Config, lines [][]byte) error {
	start := time.Now()
	for _, l := range lines {
		if err := cloak.FloorLine(l); err != nil {
			return err
		}
	}
	floor := time.Since(start)
	pols := cloak.NewPolicies(cfg)
	ws := make([]io.Writer, len(pols))
	for i := range ws {
		ws[i] = io.Discard
	}
	in := bytes.Join(lines, []byte("\n"))
	sum, err := cloak.Evaluate(ctx, bytes.NewReader(in), cloak.EvalOptions{Config: cfg, Key: []byte(cloak.DevKey)},
		cloak.NewWriterOutput(pols, ws, nil))
	if err != nil {
		return err
	}
	eval := sum.Elapsed
	rate := func(d time.Duration) string { return report.Thousands(int64(float64(len(lines))/d.Seconds())) + "/s" }
	fmt.Fprintf(e.stdout, "floor (encoding/json + time.Parse + H3 cell, one loop)  %8s  %s\n", floor.Round(time.Millisecond), rate(floor))
	fmt.Fprintf(e.stdout, "evaluate (whole engine, %d partners, records written)     %8s  %s\n", len(pols), eval.Round(time.Millisecond), rate(eval))
	fmt.Fprintf(e.stdout, "evaluate / floor speed: %.2f (target >= 1)\n", floor.Seconds()/eval.Seconds())
	return nil
}

func (e *env) benchKafka(ctx context.Context, cfg *config.Config, lines [][]byte) error {
	cfg.Kafka.Brokers = nil
	cfg.Ops.Listen = ""
	j, err := newJob(ctx, cfg, atLeast(e.log, zerolog.WarnLevel), "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer j.close()
	if err := replay(ctx, j.conn, cfg.Kafka.InputTopic, lines); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "embedded broker %s; %s raw messages in %s (%d partitions)\n",
		j.conn.Brokers[0], report.Thousands(int64(len(lines))), cfg.Kafka.InputTopic, cfg.Kafka.Partitions.Input)

	pass, err := passthrough(ctx, j.conn, cfg.Kafka.InputTopic, "bench.passthrough", len(lines))
	if err != nil {
		return err
	}
	passRate := float64(len(lines)) / pass.Seconds()
	fmt.Fprintf(e.stdout, "kafka-go passthrough (group reader -> writer, commit every 1,000)  %8s  %s msg/s\n",
		pass.Round(time.Millisecond), report.Thousands(int64(passRate)))

	// A few records per raw partition, 3 h after the data, close every window of the
	// data without waiting for partitions to go idle.
	if err := closeWindows(ctx, j.conn, cfg, lines); err != nil {
		return err
	}
	names := make([]string, len(cfg.Partners))
	for i, p := range cfg.Partners {
		names[i] = p.Name
	}
	stagesCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- j.runStages(stagesCtx, pipeline.StageOptions{Key: []byte(cloak.DevKey), MaxWait: 100 * time.Millisecond}, "all", 10*time.Second)
	}()
	for {
		t := j.metrics.Totals(names)
		finished := true
		for _, name := range names {
			finished = finished && t.Accounted(name) >= int64(len(lines))
		}
		if finished {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			return fmt.Errorf("stages stopped: %w", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	pipe := time.Since(start)
	stop()
	<-done
	t := j.metrics.Totals(names)
	var records int64
	for _, name := range names {
		records += t.Partners[name].Records
	}
	pipeRate := float64(len(lines)) / pipe.Seconds()
	fmt.Fprintf(e.stdout, "geocloak pipeline (ingest + cloak, %d partners, %s partner records) %8s  %s check-ins/s\n",
		len(names), report.Thousands(records), pipe.Round(time.Millisecond), report.Thousands(int64(pipeRate)))
	fmt.Fprintf(e.stdout, "pipeline / passthrough rate: %.2f (target >= 0.8)\n", pipeRate/passRate)
	return nil
}

// passthrough is the baseline: a kafka-go consumer-group reader feeding a writer, with
// commits every 1,000 messages, until n messages have been copied.
func passthrough(ctx context.Context, conn *pipeline.Conn, from, to string, n int) (time.Duration, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: conn.Brokers, GroupID: "bench-passthrough", Topic: from,
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 100 * time.Millisecond, StartOffset: kafka.FirstOffset,
	})
	defer r.Close()
	w := conn.Writer(to, nil)
	defer w.Close()
	w.AllowAutoTopicCreation = true
	start := time.Now()
	batch := make([]kafka.Message, 0, 1000)
	for copied := 0; copied < n; {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return 0, err
		}
		batch = append(batch, kafka.Message{Key: m.Key, Value: m.Value})
		last := m
		if len(batch) == cap(batch) || copied+len(batch) == n {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				return 0, err
			}
			if err := r.CommitMessages(ctx, last); err != nil {
				return 0, err
			}
			copied += len(batch)
			batch = batch[:0]
		}
	}
	return time.Since(start), nil
}

// closeWindows writes one valid check-in per raw partition, timed after the data.
func closeWindows(ctx context.Context, conn *pipeline.Conn, cfg *config.Config, lines [][]byte) error {
	var last int64
	d := cloak.NewDecoder(cfg.Input)
	var c cloak.Checkin
	now := time.Now().UnixMilli()
	for _, l := range lines {
		if d.Decode(l, now, &c) == nil {
			last = max(last, c.Time)
		}
	}
	t := time.UnixMilli(last).Add(3 * time.Hour)
	ts := strconv.Quote(t.UTC().Format(time.RFC3339))
	switch cfg.Input.TimeFormat {
	case "unix_s":
		ts = strconv.FormatInt(t.Unix(), 10)
	case "unix_ms":
		ts = strconv.FormatInt(t.UnixMilli(), 10)
	}
	f := cfg.Input.Fields
	parts, err := conn.Partitions(ctx, cfg.Kafka.InputTopic)
	if err != nil {
		return err
	}
	w := conn.Writer(cfg.Kafka.InputTopic, kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition }))
	defer w.Close()
	// A watermark moves only when window.watermark_users distinct users reach a time:
	// that many closers per partition.
	var msgs []kafka.Message
	for p := range parts {
		for u := range max(1, cfg.Window.WatermarkUsers) {
			rec := fmt.Sprintf(`{%q:"bench-closer-%d-%d",%q:0.5,%q:0.5,%q:%s}`, f.UserID, p, u, f.Lat, f.Lng, f.Time, ts)
			msgs = append(msgs, kafka.Message{Partition: p, Value: []byte(rec)})
		}
	}
	return w.WriteMessages(ctx, msgs...)
}
