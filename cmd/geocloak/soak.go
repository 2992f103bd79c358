package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
	"github.com/geocloak/geocloak/report"
	"github.com/geocloak/geocloak/synth"
)

// soakOptions configure `geocloak bench --soak`.
type soakOptions struct {
	duration time.Duration
	rate     int           // check-ins per second offered
	interval time.Duration // between samples
	broker   string        // an external broker; "" starts `geocloak broker` as a process
}

// soakSample is one line of the soak report.
type soakSample struct {
	elapsed          time.Duration
	produced, in     int64
	rate             float64 // ingested per second over the interval
	rssMB, heapMB    float64
	buffered, paused int64
}

// soak streams synthetic check-ins at a steady rate through both stages for a duration
// and reports throughput and resident memory over time. The broker runs in its own
// process (with retention), so that the memory measured is the job's alone.
func (e *env) soak(ctx context.Context, cfg *config.Config, opt soakOptions) error {
	addr := opt.broker
	if addr == "" {
		var stop func()
		var err error
		addr, stop, err = startBrokerProcess(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	cfg.Kafka.Brokers = []string{addr}
	cfg.Ops.Listen = ""
	j, err := newJob(ctx, cfg, atLeast(e.log, zerolog.WarnLevel), "")
	if err != nil {
		return err
	}
	defer j.close()
	fmt.Fprintf(e.stdout, "soak: %s at %s check-ins/s offered, broker %s (own process), window %s, max_buffered_events %s\n",
		opt.duration, report.Thousands(int64(opt.rate)), addr, cfg.Window.Size, report.Thousands(int64(cfg.Kafka.MaxBufferedEvents)))

	ctx, cancel := context.WithTimeout(ctx, opt.duration)
	defer cancel()
	stagesCtx, stopStages := context.WithCancel(context.Background())
	defer stopStages()
	stagesDone := make(chan error, 1)
	go func() {
		stagesDone <- j.runStages(stagesCtx, pipeline.StageOptions{Key: cloak.Key(cloak.DevKey)}, "all", 30*time.Second)
	}()
	var produced atomic.Int64
	prodDone := make(chan error, 1)
	go func() { prodDone <- produceSteady(ctx, j.conn, cfg, opt, &produced) }()

	names := make([]string, len(cfg.Partners))
	for i, p := range cfg.Partners {
		names[i] = p.Name
	}
	fmt.Fprintf(e.stdout, "%8s %12s %12s %12s %9s %9s %12s %7s\n", "elapsed", "offered", "ingested", "ingested/s", "rss MB", "heap MB", "buffered", "pauses")
	var samples []soakSample
	start := time.Now()
	last := soakSample{}
	tick := time.NewTicker(opt.interval)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err := <-stagesDone:
			return fmt.Errorf("stages stopped: %w", err)
		case <-tick.C:
		}
		t := j.metrics.Totals(names)
		s := soakSample{elapsed: time.Since(start), produced: produced.Load(), in: t.IngestIn,
			rssMB: rssMB(), heapMB: heapMB(), buffered: t.Buffered, paused: t.Pauses}
		s.rate = float64(s.in-last.in) / (s.elapsed - last.elapsed).Seconds()
		fmt.Fprintf(e.stdout, "%8s %12s %12s %12s %9.0f %9.0f %12s %7d\n", s.elapsed.Round(time.Second), report.Thousands(s.produced),
			report.Thousands(s.in), report.Thousands(int64(s.rate)), s.rssMB, s.heapMB, report.Thousands(s.buffered), s.paused)
		samples = append(samples, s)
		last = s
	}
	if err := <-prodDone; err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	stopStages()
	if err := <-stagesDone; err != nil {
		return err
	}
	printSoakVerdict(e, samples)
	return nil
}

// printSoakVerdict compares memory over the second half of the run with the first
// sample after warm-up (a quarter of the run).
func printSoakVerdict(e *env, samples []soakSample) {
	if len(samples) < 4 {
		fmt.Fprintln(e.stdout, "too few samples for a verdict (run longer, or sample more often)")
		return
	}
	warm := samples[len(samples)/4]
	peak, total := warm.rssMB, 0.0
	for _, s := range samples[len(samples)/4:] {
		peak = max(peak, s.rssMB)
	}
	lastS := samples[len(samples)-1]
	for _, s := range samples {
		total += s.rate
	}
	fmt.Fprintf(e.stdout, "throughput: %s check-ins/s on average over %s (%s ingested)\n",
		report.Thousands(int64(float64(lastS.in)/lastS.elapsed.Seconds())), lastS.elapsed.Round(time.Second), report.Thousands(lastS.in))
	fmt.Fprintf(e.stdout, "resident memory: %.0f MB after warm-up (%s), %.0f MB at the end, peak %.0f MB: %+.1f%% from warm-up to end\n",
		warm.rssMB, warm.elapsed.Round(time.Second), lastS.rssMB, peak, 100*(lastS.rssMB-warm.rssMB)/warm.rssMB)
}

// produceSteady offers check-ins of the synthetic city at opt.rate per second, keyed by
// user, until ctx ends. Event times start far enough in the past that the run never
// reaches the wall clock (input.max_future).
func produceSteady(ctx context.Context, conn *pipeline.Conn, cfg *config.Config, opt soakOptions, produced *atomic.Int64) error {
	w := conn.Writer(cfg.Kafka.InputTopic, nil)
	w.Async = true // the soak measures the job, not the producer's round trips
	defer w.Close()
	sc := synth.DefaultConfig()
	total := float64(opt.rate) * opt.duration.Seconds()
	days := total/(float64(sc.Users)*sc.CheckinsPerUserPerDay) + 2
	sc.Start = time.Now().Add(-time.Duration(days*24) * time.Hour).UTC().Truncate(24 * time.Hour)
	const slot = 20 * time.Millisecond
	perSlot := max(1, opt.rate*int(slot)/int(time.Second))
	batch := make([]kafka.Message, 0, perSlot)
	next := time.Now()
	return synth.Stream(ctx, sc, func(line []byte) error {
		var rec struct {
			User string `json:"user_id"`
		}
		json.Unmarshal(line, &rec)
		batch = append(batch, kafka.Message{Key: []byte(rec.User), Value: bytes.Clone(line)})
		if len(batch) < perSlot {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return err
		}
		produced.Add(int64(len(batch)))
		batch = batch[:0]
		next = next.Add(slot)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		return nil
	})
}

// startBrokerProcess runs `geocloak broker` as a child process on a free port, keeping
// two minutes of messages.
func startBrokerProcess(ctx context.Context) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "broker", "--addr", addr, "--partitions", "8", "--retention", "2m")
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start broker process: %w", err)
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("broker process on %s did not start", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rssMB is the resident set size of this process (Linux), else the memory the Go
// runtime holds from the system.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return float64(pages*int64(os.Getpagesize())) / (1 << 20)
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.Sys) / (1 << 20)
}

func heapMB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
