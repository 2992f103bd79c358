package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
	"github.com/geocloak/geocloak/report"
)

// demo is `geocloak demo`: the embedded broker, the bundled city replayed into the raw
// topic, both stages, live progress, a sample of what partners get, and a check that it
// equals what `evaluate` says for the same file.
func (e *env) demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfgPath := fs.String("config", "testdata/city.yaml", "config `FILE`")
	input := fs.String("input", "testdata/city.jsonl.gz", "check-ins to replay (JSONL `FILE`, plain or gzip)")
	addr := fs.String("addr", "127.0.0.1:9092", "embedded broker `HOST:PORT` (another free port is used if it is taken)")
	keep := fs.Bool("keep-running", false, "stay up after the replay, for kcat or any Kafka client")
	sample := fs.Int("sample", 3, "records to show per partner")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up when the replay has not finished by then")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: geocloak demo [--keep-running] [--config FILE] [--input FILE] [--addr HOST:PORT] [--sample N] [--timeout D]")
		fmt.Fprintln(e.stderr, "Replays the bundled synthetic city through an embedded broker and both stages.")
		fs.PrintDefaults()
	}
	if help, err := e.parseFlags(fs, args); help || err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w (run the demo from the repository root, or pass --config and --input)", err)
		}
		return err
	}
	lines, err := readLines(*input)
	if err != nil {
		return fmt.Errorf("%w (run the demo from the repository root, or pass --config and --input)", err)
	}
	key, err := e.pseudonymKey(cfg)
	if err != nil {
		return err
	}
	// The demo always runs on its own embedded broker, and finishes as soon as the
	// replay is read: raw partitions idle for 2 s release their windows.
	cfg.Kafka.Brokers = nil
	cfg.Window.IdleAdvance = config.Duration(2 * time.Second)
	log := atLeast(e.log, zerolog.WarnLevel)
	j, err := newJob(ctx, cfg, log, *addr)
	if err != nil && !errors.Is(ctx.Err(), context.Canceled) {
		e.log.Warn().Err(err).Msg("embedded broker address taken; using a free port")
		j, err = newJob(ctx, cfg, log, "127.0.0.1:0")
	}
	if err != nil {
		return err
	}
	defer j.close()
	if err := j.serveOps(cfg.Ops.Listen); err != nil {
		e.log.Warn().Err(err).Msg("no /metrics for this demo")
	}
	broker := j.conn.Brokers[0]
	fmt.Fprintf(e.stdout, "geocloak demo: embedded broker on %s; replaying %s check-ins from %s into %s\n",
		broker, report.Thousands(int64(len(lines))), *input, cfg.Kafka.InputTopic)

	stagesCtx, stopStages := context.WithCancel(ctx)
	defer stopStages()
	stagesDone := make(chan error, 1)
	go func() {
		stagesDone <- j.runStages(stagesCtx, pipeline.StageOptions{Key: key, MaxWait: 200 * time.Millisecond}, "all", 30*time.Second)
	}()
	if err := replay(ctx, j.conn, cfg.Kafka.InputTopic, lines); err != nil {
		return err
	}

	names := make([]string, len(cfg.Partners))
	for i, p := range cfg.Partners {
		names[i] = p.Name
	}
	tty := isTerminal(e.stdout)
	deadline := time.After(*timeout)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	lastLine := time.Time{}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-stagesDone:
			return fmt.Errorf("stages stopped: %w", err)
		case <-deadline:
			return fmt.Errorf("replay not finished after %s", *timeout)
		case <-tick.C:
		}
		t := j.metrics.Totals(names)
		done = true
		var parts []string
		for _, n := range names {
			acc := t.Accounted(n)
			done = done && acc >= int64(len(lines))
			p := t.Partners[n]
			parts = append(parts, fmt.Sprintf("%s %s released, %s suppressed", n, report.Thousands(p.Released), report.Thousands(acc-p.Released)))
		}
		line := fmt.Sprintf("%5.1fs  in %s/%s | %s | %s dead letters",
			time.Since(start).Seconds(), report.Thousands(t.IngestIn), report.Thousands(int64(len(lines))), strings.Join(parts, " | "), report.Thousands(t.DeadLetters))
		switch {
		case tty:
			fmt.Fprintf(e.stdout, "\r\033[K%s", line)
		case done || time.Since(lastLine) >= 5*time.Second:
			fmt.Fprintln(e.stdout, line)
			lastLine = time.Now()
		}
	}
	if tty {
		fmt.Fprintln(e.stdout)
	}

	got := make(map[string]map[string]string) // partner → key → value
	for _, p := range cfg.Partners {
		recs := make(map[string]string)
		var first []string
		err := j.conn.ReadTopic(ctx, p.Topic, func(_ int, k, v []byte, _ time.Time) error {
			recs[string(k)] = string(v)
			if len(first) < *sample {
				first = append(first, fmt.Sprintf("  key %s  value %s", k, v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		got[p.Name] = recs
		fmt.Fprintf(e.stdout, "\n%s (%s, topic %s), first records:\n%s\n", p.Name, p.Mode, p.Topic, strings.Join(first, "\n"))
	}

	// The same file through evaluate, for comparison, judging lateness per raw partition
	// as the stream does (replay hashes user ids with kafka-go's Hash, FNV-1a).
	pols := cloak.NewPolicies(cfg)
	out, bufs := cloak.NewBufferOutput(pols, nil)
	part, err := pipeline.Partitioner("fnv1a", cfg.Kafka.Partitions.Input)
	if err != nil {
		return err
	}
	sum, err := cloak.Evaluate(ctx, bytes.NewReader(bytes.Join(lines, []byte("\n"))), cloak.EvalOptions{Config: cfg, Key: key,
		Partitions: cfg.Kafka.Partitions.Input, Partition: part}, out)
	if err != nil {
		return err
	}
	out.Flush()
	t := j.metrics.Totals(names)
	fmt.Fprintf(e.stdout, "\nsummary: %s check-ins in, %s dead-lettered (invalid), %s late\n",
		report.Thousands(t.IngestIn), report.Thousands(t.DeadLetters), report.Thousands(t.Late))
	fmt.Fprintf(e.stdout, "%-16s %10s %8s %10s %10s %10s  %s\n", "partner", "released", "share", "below_k", "cap", "sensitive", "records = evaluate?")
	allSame := true
	for i, p := range cfg.Partners {
		pt := t.Partners[p.Name]
		want := strings.Split(strings.TrimSpace(bufs[i].String()), "\n")
		var have []string
		for _, v := range got[p.Name] {
			have = append(have, v)
		}
		slices.Sort(want)
		slices.Sort(have)
		same := slices.Equal(want, have) && pt.Released == int64(sum.Partners[i].Released)
		verdict := fmt.Sprintf("yes (%s records)", report.Thousands(int64(len(have))))
		switch {
		case p.DP != nil:
			// Which classes pass the noisy threshold, and their counts, are drawn anew by
			// each run, by design: the two runs cannot agree record for record.
			same = true
			verdict = fmt.Sprintf("not compared, dp noise (%s records; evaluate drew %s)",
				report.Thousands(int64(len(have))), report.Thousands(int64(len(want))))
		case !same:
			verdict = fmt.Sprintf("NO: %s through Kafka, %s from evaluate", report.Thousands(int64(len(have))), report.Thousands(int64(len(want))))
		}
		allSame = allSame && same
		fmt.Fprintf(e.stdout, "%-16s %10s %7.1f%% %10s %10s %10s  %s\n", p.Name, report.Thousands(pt.Released),
			100*float64(pt.Released)/float64(len(lines)), report.Thousands(pt.Suppressed["below_k"]), report.Thousands(pt.Suppressed["contribution_cap"]),
			report.Thousands(pt.Suppressed["sensitive_category"]), verdict)
	}
	fmt.Fprintf(e.stdout, "(evaluate judged lateness per raw partition, as the stream does: --partitions %d --partitioner fnv1a; %s late)\n",
		cfg.Kafka.Partitions.Input, report.Thousands(sum.Late))
	if *keep {
		fmt.Fprintf(e.stdout, "\nStill running. Try, from another terminal:\n")
		fmt.Fprintf(e.stdout, "  kcat -b %s -L\n", broker)
		fmt.Fprintf(e.stdout, "  kcat -b %s -C -t %s -o beginning -e -f '%%k %%s\\n'\n", broker, cfg.Partners[0].Topic)
		if cfg.Ops.Listen != "" {
			fmt.Fprintf(e.stdout, "  curl -s http://%s/metrics | grep ^geocloak_\n", cfg.Ops.Listen)
		}
		fmt.Fprintln(e.stdout, "Ctrl-C stops it.")
		<-ctx.Done()
	}
	stopStages()
	if err := <-stagesDone; err != nil {
		return err
	}
	if !allSame {
		return errors.New("the records through Kafka differ from evaluate's")
	}
	return nil
}

// readLines reads a JSONL file, plain or gzip, skipping blank lines.
func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := cloak.Decompress(f)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, bytes.Clone(sc.Bytes()))
		}
	}
	return out, sc.Err()
}

// replay produces check-ins into topic keyed by user id, as the app would (records that
// are not JSON get an empty key and are dead-lettered by the ingest stage).
func replay(ctx context.Context, conn *pipeline.Conn, topic string, lines [][]byte) error {
	w := conn.Writer(topic, nil)
	defer w.Close()
	msgs := make([]kafka.Message, 0, 1000)
	for i, l := range lines {
		var rec struct {
			User json.RawMessage `json:"user_id"`
		}
		json.Unmarshal(l, &rec)
		msgs = append(msgs, kafka.Message{Key: bytes.Trim(rec.User, `"`), Value: l})
		if len(msgs) == cap(msgs) || i == len(lines)-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("replay into %s: %w", topic, err)
			}
			msgs = msgs[:0]
		}
	}
	return nil
}
