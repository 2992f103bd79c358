package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

// kcat finds Debian's kcat (librdkafka). CI installs it and sets GEOCLOAK_REQUIRE_KCAT,
// so there the interop test cannot be skipped.
func kcat(t *testing.T) string {
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("GEOCLOAK_REQUIRE_KCAT") != "" {
			t.Fatal("kcat is required (apt-get install -y kcat)")
		}
		t.Skip("kcat not installed (apt-get install -y kcat)")
	}
	return path
}

// TestKcatInterop: an independent Kafka client (kcat, librdkafka) produces the raw
// check-ins and consumes a partner topic; what it reads is exactly evaluate's output.
func TestKcatInterop(t *testing.T) {
	bin := kcat(t)
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Window.IdleAdvance = config.Duration(time.Second)
	cfg.Ops.Listen = ""
	lines, err := readLines(cityInput)
	if err != nil {
		t.Fatal(err)
	}
	lines = lines[:20000]
	b, err := startBroker("127.0.0.1:0", 4, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.ListenAddrs()[0]
	cfg.Kafka.Brokers = []string{addr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j, err := newJob(ctx, cfg, zerolog.Nop(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	done := make(chan error, 1)
	go func() {
		done <- j.runStages(ctx, pipeline.StageOptions{Key: []byte(testKey), MaxWait: 100 * time.Millisecond}, "all", 10*time.Second)
	}()

	// The job has been up and idle for longer than window.idle_advance before the first
	// record: a replay into a running job must not be judged late as a whole.
	time.Sleep(2 * time.Second)

	// kcat produces "user<TAB>record" lines keyed by user.
	var in bytes.Buffer
	for _, l := range lines {
		var rec struct {
			User string `json:"user_id"`
		}
		json.Unmarshal(l, &rec)
		in.WriteString(rec.User + "\t")
		in.Write(l)
		in.WriteByte('\n')
	}
	produce := exec.Command(bin, "-b", addr, "-P", "-t", cfg.Kafka.InputTopic, "-K", "\t")
	produce.Stdin = &in
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}

	// kcat partitions by the CRC32 of the key (librdkafka's default), into 4 partitions.
	want := evaluateLines(t, cfg, lines, 4, "crc32")
	var got map[string]string
	deadline := time.Now().Add(60 * time.Second)
	for {
		consume := exec.Command(bin, "-b", addr, "-C", "-t", cfg.Partners[0].Topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n")
		out, err := consume.Output()
		if err != nil {
			t.Fatalf("kcat -C: %v", err)
		}
		got = make(map[string]string)
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, v, ok := strings.Cut(l, "\t"); ok {
				if old, dup := got[k]; dup && old != v {
					t.Fatalf("G3: key %s has two contents", k)
				}
				got[k] = v
			}
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var have []string
	for _, v := range got {
		have = append(have, v)
	}
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Errorf("kcat read %d records of %s, evaluate gives %d", len(have), cfg.Partners[0].Topic, len(want))
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// evaluateLines returns the first partner's records for lines, sorted, judging lateness
// as a stream on a raw topic of partitions partitions written with partitioner does
// (partitions 0: on the file as a whole).
func evaluateLines(t *testing.T, cfg *config.Config, lines [][]byte, partitions int, partitioner string) []string {
	t.Helper()
	var buf bytes.Buffer
	pols := cloak.NewPolicies(cfg)
	out := cloak.NewWriterOutput(pols, []io.Writer{&buf}, nil)
	if _, err := cloak.Evaluate(context.Background(), bytes.NewReader(bytes.Join(lines, []byte("\n"))),
		cloak.EvalOptions{Config: cfg, Key: []byte(testKey), Partitions: partitions, Partition: must(pipeline.Partitioner(partitioner, partitions))}, out); err != nil {
		t.Fatal(err)
	}
	out.Flush()
	recs := strings.Split(strings.TrimSpace(buf.String()), "\n")
	slices.Sort(recs)
	return recs
}
