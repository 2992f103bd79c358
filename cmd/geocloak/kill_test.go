package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"go.yaml.in/yaml/v3"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

// TestSIGKILL runs `geocloak run` as a process against a broker that outlives it, kills
// it with SIGKILL at random moments (seeded: GEOCLOAK_KILL_SEED, GEOCLOAK_KILLS times),
// restarts it, and lets the last run finish. Deduplicated by key, each partner topic must
// equal evaluate's output on the same input (nothing lost, nothing below k), and no key may
// carry two contents (G3). The killed processes' group members stay in both groups until
// the coordinator drops them; the last run must get every partition back within the
// session timeout plus a rebalance or two (it logs how long it took).
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills processes")
	}
	seed := envInt(t, "GEOCLOAK_KILL_SEED", 1)
	kills := envInt(t, "GEOCLOAK_KILLS", 4)
	logs := processLogs(t)
	b, err := startBroker("127.0.0.1:0", 4, zerolog.New(logs.writer("broker")))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	j := newProcessJob(t, b.ListenAddrs()[0], 30000, 30000)
	j.logs = logs
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	for i := range kills {
		cmd := j.start()
		d := time.Duration(300+r.IntN(1700)) * time.Millisecond
		time.Sleep(d) // a random moment of the run, not a synchronization
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Logf("kill %d after %s", i+1, d)
	}
	cmd := j.start()
	restarted := time.Now()
	got := j.waitOutput(120 * time.Second)
	t.Logf("the last run caught up in %s", time.Since(restarted).Round(time.Second))
	j.stop(cmd)
	j.check(got, fmt.Sprintf("after %d kills", kills))
}

// TestBrokerDataDir: `geocloak broker --data-dir` is killed with SIGKILL in the middle of
// a run and restarted on the same address with the same directory; it comes back with
// its topics, messages, committed offsets and groups, and `geocloak run`, which kept
// running, loses nothing and releases no key twice with two contents.
func TestBrokerDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills processes")
	}
	addr := freeAddr(t)
	data := filepath.Join(t.TempDir(), "broker")
	logs := processLogs(t)
	bin := buildBinary(t)
	startBrokerProcess := func(name string) *exec.Cmd {
		cmd := exec.Command(bin, "broker", "--addr", addr, "--data-dir", data)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = logs.writer(name)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// It prints its address once it listens.
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			t.Fatalf("%s did not start: %v", name, err)
		}
		return cmd
	}
	broker := startBrokerProcess("broker 1")
	defer func() {
		broker.Process.Signal(syscall.SIGTERM)
		broker.Wait()
	}()
	j := newProcessJob(t, addr, 20000, 10000)
	j.logs = logs
	// A topic created on first use, as kcat's producer creates it.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	auto := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "created.on.first.use", AllowAutoTopicCreation: true, BatchTimeout: time.Millisecond, Transport: tr}
	if err := auto.WriteMessages(context.Background(), kafka.Message{Value: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	auto.Close()
	cmd := j.start()
	n := 0
	for deadline := time.Now().Add(60 * time.Second); n < j.total()/3; n = j.records() {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records after 60s", n, j.total())
		}
		time.Sleep(100 * time.Millisecond)
	}
	broker.Process.Signal(syscall.SIGKILL)
	broker.Wait()
	t.Logf("broker killed at %d of %d records", n, j.total())
	broker = startBrokerProcess("broker 2")
	j.replayRest() // the job has work left after the restart, whenever the kill came
	got := j.waitOutput(120 * time.Second)
	j.stop(cmd)
	j.check(got, "after a broker restart")
	// A new connection: the job's caches metadata (for up to 10 s).
	conn, err := pipeline.Dial(context.Background(), j.cfg.Kafka, j.cfg.Kafka.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var kept []string
	if err := conn.ReadTopic(context.Background(), "created.on.first.use", func(_ int, _, v []byte, _ time.Time) error {
		kept = append(kept, string(v))
		return nil
	}); err != nil || !slices.Equal(kept, []string{"kept"}) {
		t.Errorf("a topic created on first use, after the restart: %q, %v", kept, err)
	}
}

// freeAddr is a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// processJob is `geocloak run` as a process on the first lines of the city, replayed
// into the raw topic of the broker at addr, and what evaluate says it must release.
type processJob struct {
	rest    [][]byte // lines not replayed yet
	t       *testing.T
	bin     string
	cfg     *config.Config
	cfgPath string
	conn    *pipeline.Conn
	want    map[string][]string
	logs    *logSink
	runs    int
}

// newProcessJob replays the first of the first lines lines of the city; replayRest
// replays the others.
func newProcessJob(t *testing.T, addr string, lines, first int) *processJob {
	t.Helper()
	j := &processJob{t: t, bin: buildBinary(t), want: make(map[string][]string)}
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Brokers = []string{addr}
	cfg.Kafka.Partitions = config.Partitions{Input: 4, Internal: 3, Partner: 2}
	cfg.Window.IdleAdvance = config.Duration(time.Second)
	cfg.Ops.Listen = ""
	j.cfg = cfg
	j.cfgPath = filepath.Join(t.TempDir(), "geocloak.yaml")
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j.cfgPath, y, 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := readLines(cityInput)
	if err != nil {
		t.Fatal(err)
	}
	all = all[:lines]
	ctx := context.Background()
	if j.conn, err = pipeline.Dial(ctx, cfg.Kafka, cfg.Kafka.Brokers); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.conn.Close)
	if err := j.conn.EnsureTopics(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := replay(ctx, j.conn, cfg.Kafka.InputTopic, all[:first]); err != nil {
		t.Fatal(err)
	}
	j.rest = all[first:]
	for i, recs := range evaluateAll(t, cfg, all) {
		j.want[cfg.Partners[i].Name] = recs
	}
	return j
}

func (j *processJob) replayRest() {
	// The test's connection may still hold connections to a broker that was killed.
	var err error
	for range 50 {
		if err = replay(context.Background(), j.conn, j.cfg.Kafka.InputTopic, j.rest); err == nil {
			j.rest = nil
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	j.t.Fatal(err)
}

// start starts `geocloak run`; its log goes to the test's process logs.
func (j *processJob) start() *exec.Cmd {
	if j.logs == nil {
		j.logs = processLogs(j.t)
	}
	j.runs++
	cmd := exec.Command(j.bin, "run", "--config", j.cfgPath)
	cmd.Env = append(os.Environ(), "GEOCLOAK_PSEUDONYM_KEY="+testKey)
	cmd.Stderr = j.logs.writer(fmt.Sprintf("run %d", j.runs))
	if err := cmd.Start(); err != nil {
		j.t.Fatal(err)
	}
	return cmd
}

// stop stops a run with SIGTERM, as an operator would, and checks it stops cleanly.
func (j *processJob) stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		j.t.Errorf("graceful stop after SIGTERM: %v", err)
	}
}

func (j *processJob) total() int {
	return len(j.want["acme-ads"]) + len(j.want["metro-insights"]) + len(j.want["beacon-media"])
}

// records is the number of distinct keys in the partner topics now.
func (j *processJob) records() int {
	n := 0
	for _, recs := range readPartners(j.t, j.conn, j.cfg) {
		n += len(recs)
	}
	return n
}

// waitOutput waits until every partner topic holds as many distinct keys as evaluate
// gives records, or timeout, and returns the topics' records.
func (j *processJob) waitOutput(timeout time.Duration) map[string]map[string][]string {
	deadline := time.Now().Add(timeout)
	for {
		got := readPartners(j.t, j.conn, j.cfg)
		done := true
		for _, p := range j.cfg.Partners {
			done = done && len(got[p.Name]) >= len(j.want[p.Name])
		}
		if done || time.Now().After(deadline) {
			return got
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// check requires each partner's records, deduplicated by key, to be evaluate's, and no
// key to have two contents (G3).
func (j *processJob) check(got map[string]map[string][]string, after string) {
	t := j.t
	for _, p := range j.cfg.Partners {
		var vals []string
		dups := 0
		for k, vs := range got[p.Name] {
			for _, v := range vs[1:] {
				if v != vs[0] {
					t.Fatalf("G3: key %s has two contents %s:\n%s\n%s", k, after, vs[0], v)
				}
			}
			dups += len(vs) - 1
			vals = append(vals, vs[0])
		}
		slices.Sort(vals)
		if !slices.Equal(vals, j.want[p.Name]) {
			t.Errorf("partner %s: %d records %s, evaluate gives %d", p.Name, len(vals), after, len(j.want[p.Name]))
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
// the stream does on cfg's raw topic written by replay() (kafka-go's Hash).
func evaluateAll(t *testing.T, cfg *config.Config, lines [][]byte) [][]string {
	t.Helper()
	pols := cloak.NewPolicies(cfg)
	out, bufs := cloak.NewBufferOutput(pols, nil)
	if _, err := cloak.Evaluate(context.Background(), bytes.NewReader(bytes.Join(lines, []byte("\n"))),
		cloak.EvalOptions{Config: cfg, Key: []byte(testKey), Partitions: cfg.Kafka.Partitions.Input, Partition: must(pipeline.Partitioner("fnv1a", cfg.Kafka.Partitions.Input))}, out); err != nil {
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

// buildBinary builds geocloak once for the tests that run it as a process.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "geocloak-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		bin := filepath.Join(dir, "geocloak")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		binPath = bin
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	binOnce         sync.Once
	binPath, binDir string
	binErr          error
)

// logSink collects the logs of a test's child processes, each line prefixed with the
// process and the time since the test began; they are printed if the test fails (and
// as they come with -v).
type logSink struct {
	t     *testing.T
	start time.Time
	mu    sync.Mutex
	buf   bytes.Buffer
}

func processLogs(t *testing.T) *logSink {
	l := &logSink{t: t, start: time.Now()}
	t.Cleanup(func() {
		if t.Failed() && !testing.Verbose() {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Logf("logs of the processes:\n%s", l.buf.String())
		}
	})
	return l
}

// writer is the stderr of one process.
func (l *logSink) writer(name string) io.Writer { return &sinkWriter{l: l, name: name} }

type sinkWriter struct {
	l    *logSink
	name string
}

func (w *sinkWriter) Write(p []byte) (int, error) {
	l := w.l
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		s := fmt.Sprintf("%7.2fs %s: %s", time.Since(l.start).Seconds(), w.name, strings.TrimRight(line, "\n"))
		l.buf.WriteString(s + "\n")
		if testing.Verbose() {
			l.t.Log(s)
		}
	}
	return len(p), nil
}
