package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

// TestSIGKILL runs `geocloak run` as a process against a broker that outlives it, kills
// it with SIGKILL at random moments (seeded: GEOCLOAK_KILL_SEED, GEOCLOAK_KILLS times),
// restarts it, and lets the last run finish. Deduplicated by key, each partner topic must
// equal evaluate's output on the same input (nothing lost, nothing below k), and no key may
// carry two contents (G3).
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills processes")
	}
	seed := envInt(t, "GEOCLOAK_KILL_SEED", 1)
	kills := envInt(t, "GEOCLOAK_KILLS", 4)
	dir := t.TempDir()
	bin := filepath.Join(dir, "geocloak")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := startBroker("127.0.0.1:0", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Brokers = b.ListenAddrs()
	cfg.Kafka.Partitions = config.Partitions{Input: 4, Internal: 3, Partner: 2}
	cfg.Window.IdleAdvance = config.Duration(time.Second)
	cfg.Ops.Listen = ""
	cfgPath := filepath.Join(dir, "geocloak.yaml")
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, y, 0o600); err != nil {
		t.Fatal(err)
	}
	lines, err := readLines(cityInput)
	if err != nil {
		t.Fatal(err)
	}
	lines = lines[:30000]
	ctx := context.Background()
	conn, err := pipeline.Dial(ctx, cfg.Kafka, cfg.Kafka.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.EnsureTopics(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := replay(ctx, conn, cfg.Kafka.InputTopic, lines); err != nil {
		t.Fatal(err)
	}
	want := make(map[string][]string)
	all := evaluateAll(t, cfg, lines)
	for i, p := range cfg.Partners {
		want[p.Name] = all[i]
	}

	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "--config", cfgPath)
		cmd.Env = append(os.Environ(), "GEOCLOAK_PSEUDONYM_KEY="+testKey)
		cmd.Stderr = &prefixWriter{t: t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	for i := range kills {
		cmd := start()
		d := time.Duration(300+r.IntN(1700)) * time.Millisecond
		time.Sleep(d)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Logf("kill %d after %s", i+1, d)
	}
	cmd := start()
	deadline := time.Now().Add(120 * time.Second)
	var got map[string]map[string][]string
	for {
		got = readPartners(t, conn, cfg)
		done := true
		for _, p := range cfg.Partners {
			done = done && len(got[p.Name]) >= len(want[p.Name])
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("graceful stop after SIGTERM: %v", err)
	}
	for _, p := range cfg.Partners {
		var vals []string
		dups := 0
		for k, vs := range got[p.Name] {
			for _, v := range vs[1:] {
				if v != vs[0] {
					t.Fatalf("G3: key %s has two contents after SIGKILL:\n%s\n%s", k, vs[0], v)
				}
			}
			dups += len(vs) - 1
			vals = append(vals, vs[0])
		}
		slices.Sort(vals)
		if !slices.Equal(vals, want[p.Name]) {
			t.Errorf("partner %s: %d records after %d kills, evaluate gives %d", p.Name, len(vals), kills, len(want[p.Name]))
		}
		t.Logf("partner %s: %d records, %d repeated with the same key and content", p.Name, len(vals), dups)
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// readPartners reads every partner topic: partner → key → values.
func readPartners(t *testing.T, conn *pipeline.Conn, cfg *config.Config) map[string]map[string][]string {
	out := make(map[string]map[string][]string)
	for _, p := range cfg.Partners {
		m := make(map[string][]string)
		err := conn.ReadTopic(context.Background(), p.Topic, func(_ int, k, v []byte, _ time.Time) error {
			m[string(k)] = append(m[string(k)], string(v))
			return nil
		})
		if err != nil {
			t.Logf("read %s: %v", p.Topic, err)
		}
		out[p.Name] = m
	}
	return out
}

// evaluateAll returns every partner's records for lines, sorted, judging lateness as
// the stream does on cfg's raw topic written by replay() (kafka-go's Hash). All partners
// run together: the finest resolution, hence every cell, depends on the whole config.
func evaluateAll(t *testing.T, cfg *config.Config, lines [][]byte) [][]string {
	t.Helper()
	pols := pipeline.NewPolicies(cfg)
	bufs := make([]bytes.Buffer, len(pols))
	ws := make([]io.Writer, len(pols))
	for i := range bufs {
		ws[i] = &bufs[i]
	}
	out := pipeline.NewWriterOutput(pols, ws, nil)
	if _, err := pipeline.Evaluate(context.Background(), bytes.NewReader(bytes.Join(lines, []byte("\n"))),
		pipeline.EvalOptions{Config: cfg, Key: []byte(testKey), Partitions: cfg.Kafka.Partitions.Input, Partitioner: "fnv1a"}, out); err != nil {
		t.Fatal(err)
	}
	out.Flush()
	res := make([][]string, len(pols))
	for i := range pols {
		res[i] = strings.Split(strings.TrimSpace(bufs[i].String()), "\n")
		slices.Sort(res[i])
	}
	return res
}

// prefixWriter passes a child process's log to the test log when -v is given.
type prefixWriter struct{ t *testing.T }

func (w *prefixWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Logf("geocloak: %s", p)
	}
	return len(p), nil
}
