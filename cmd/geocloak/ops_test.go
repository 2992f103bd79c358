package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"go.yaml.in/yaml/v3"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

// lockedBuffer is a bytes.Buffer that a command's goroutines can log into while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func findLine(lines []map[string]any, msg string) map[string]any {
	for _, l := range lines {
		if l["message"] == msg {
			return l
		}
	}
	return nil
}

// `run` logs JSON lines (stderr is not a terminal): one startup line with the version,
// topics and each partner's policy, a warning for each setting config check warns about,
// and a rate-limited warning when old check-ins produced into the running job are late,
// with counts, windows and the watermark, never the records (G6). --ops-listen wins over
// ops.listen, and /metrics has geocloak_build_info.
func TestRunLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the streaming job")
	}
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	t.Setenv(opsListenEnv, "")
	b, err := startBroker("127.0.0.1:0", 2, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Brokers = b.ListenAddrs()
	cfg.Kafka.Partitions = config.Partitions{Input: 2, Internal: 2, Partner: 1}
	for i := range cfg.Partners {
		cfg.Partners[i].MaxCheckinsPerUserPerWindow = 0 // a setting config check warns about (on all: they must share it)
		if cfg.Partners[i].Mode == config.ModeCounts {
			// Without a cap, a user count next to other partners is refused.
			cfg.Partners[i].Fields = []string{"cell", "res", "window_start", "window_end", "checkins"}
		}
	}
	cfg.Ops.Listen = "127.0.0.1:1" // not used: --ops-listen wins
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "geocloak.yaml")
	if err := os.WriteFile(cfgPath, must(yaml.Marshal(cfg)), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", cfgPath, "--ops-listen", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(stderr.String(), what) {
			select {
			case err := <-done:
				t.Fatalf("run ended before %q: %v\n%s", what, err, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after 30s:\n%s", what, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(`"message":"running"`)

	// 30 users now, then 20 check-ins three hours old, all on raw partition 0: the old ones
	// are late (their window closed on that partition).
	now := time.Now().UTC()
	var msgs []kafka.Message
	var sentinels []string
	add := func(i int, at time.Time) {
		user := fmt.Sprintf("canary-user-%03d", i)
		lat, lng := fmt.Sprintf("45.76%04d", 1000+i), fmt.Sprintf("4.83%04d", 5000+i)
		sentinels = append(sentinels, user, lat, lng, fmt.Sprintf("canary-caption-%03d", i))
		msgs = append(msgs, kafka.Message{Key: []byte(user), Value: fmt.Appendf(nil,
			`{"event_id":"canary-evt-%03d","user_id":%q,"lat":%s,"lng":%s,"ts":%q,"venue_category":"Coffee Shop","caption":"canary-caption-%03d"}`,
			i, user, lat, lng, at.Format(time.RFC3339), i)})
	}
	for i := range 30 {
		add(i, now.Add(-10*time.Minute))
	}
	old := now.Add(-3 * time.Hour)
	for i := 30; i < 50; i++ {
		add(i, old)
	}
	conn, err := pipeline.Dial(ctx, cfg.Kafka, cfg.Kafka.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := conn.Writer(cfg.Kafka.InputTopic, kafka.BalancerFunc(func(kafka.Message, ...int) int { return 0 }))
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitFor("check-ins suppressed as late")

	lines := jsonLines(t, stderr.String())
	serving := findLine(lines, "serving /metrics, /healthz, /readyz")
	if serving == nil {
		t.Fatal("no ops listener line")
	}
	addr, _ := serving["addr"].(string)
	if !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:1" {
		t.Errorf("ops listener on %q: --ops-listen 127.0.0.1:0 did not win over ops.listen", addr)
	}
	code, metrics := httpGet(t, "http://"+addr+"/metrics")
	if code != http.StatusOK || !strings.Contains(metrics, "geocloak_build_info{") ||
		!strings.Contains(metrics, `go_version="go`) || !strings.Contains(metrics, "geocloak_late_total 20") {
		t.Errorf("/metrics = %d, lacks geocloak_build_info or geocloak_late_total 20:\n%s", code, grepLines(metrics, "geocloak_"))
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	log := stderr.String()
	lines = jsonLines(t, log)

	start := findLine(lines, "geocloak starting")
	if start == nil {
		t.Fatalf("no startup line:\n%s", log)
	}
	for k, v := range map[string]any{"level": "info", "stage": "all", "input_topic": "checkins.raw", "internal_topic": "geocloak.cells",
		"dead_letter_topic": "checkins.dlq", "group_id": "geocloak", "window": "1h", "allowed_lateness": "5m"} {
		if start[k] != v {
			t.Errorf("startup line: %s = %v, want %v", k, start[k], v)
		}
	}
	if start["version"] == nil || start["revision"] == nil || start["go_version"] == nil {
		t.Errorf("startup line without version, revision or go_version: %v", start)
	}
	partners, _ := start["partners"].([]any)
	if len(partners) != len(cfg.Partners) {
		t.Fatalf("startup line: %d partners, want %d: %v", len(partners), len(cfg.Partners), start)
	}
	for i, p := range cfg.Partners {
		got, _ := partners[i].(map[string]any)
		want := map[string]any{"name": p.Name, "topic": p.Topic, "mode": string(p.Mode), "k": float64(p.K),
			"max_resolution": float64(p.MaxResolution), "min_resolution": float64(p.MinResolution), "window": "1h"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("startup line, partner %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}

	warned := false
	for _, l := range lines {
		if l["message"] == "config weakens privacy or security" && l["key"] == "partners[0].max_checkins_per_user_per_window" {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning for partners[0].max_checkins_per_user_per_window: 0:\n%s", log)
	}

	late := findLine(lines, "check-ins suppressed as late: their windows had closed on this raw partition (to backfill old data, see the README)")
	if late == nil {
		t.Fatalf("no late line:\n%s", log)
	}
	oldWindow := time.UnixMilli(cloak.WindowStart(old.UnixMilli(), time.Hour.Milliseconds())).UTC().Format(time.RFC3339)
	for k, v := range map[string]any{"level": "warn", "stage": "ingest", "partition": 0.0, "late": 20.0,
		"window_oldest": oldWindow, "window_newest": oldWindow} {
		if late[k] != v {
			t.Errorf("late line: %s = %v, want %v", k, late[k], v)
		}
	}
	if late["watermark"] == nil {
		t.Errorf("late line without the watermark: %v", late)
	}
	for _, s := range sentinels {
		if strings.Contains(log, s) {
			t.Errorf("G6: %q from the input is in the log", s)
		}
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestOpsListenOverride(t *testing.T) {
	tests := []struct {
		name, env string
		args      []string
		want, err string
	}{
		{name: "config", want: "127.0.0.1:9464"},
		{name: "env", env: "0.0.0.0:9465", want: "0.0.0.0:9465"},
		{name: "flag wins over env", env: "0.0.0.0:9465", args: []string{"--ops-listen", "127.0.0.1:9466"}, want: "127.0.0.1:9466"},
		{name: "empty flag turns it off", env: "0.0.0.0:9465", args: []string{"--ops-listen", ""}, want: ""},
		{name: "any interface", args: []string{"--ops-listen", ":9467"}, want: ":9467"},
		{name: "bad flag", args: []string{"--ops-listen", "9464"}, err: `--ops-listen "9464"`},
		{name: "bad env", env: "localhost", err: `$GEOCLOAK_OPS_LISTEN "localhost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(opsListenEnv, tt.env)
			cfg := config.Default()
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			v := fs.String("ops-listen", "", "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := overrideOpsListen(fs, &cfg, *v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Ops.Listen != tt.want {
				t.Errorf("ops.listen = %q, want %q", cfg.Ops.Listen, tt.want)
			}
		})
	}
}
