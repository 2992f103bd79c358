package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/geocloak/geocloak/config"
	"github.com/geocloak/geocloak/pipeline"
)

// run refuses the public development key unless --dev is given.
// The refusal is the log's last line, JSON like every other (main does not print it
// again), so that stderr parses as JSON lines to the end.
func TestRunRefusesDevKey(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", "")
	_, stderr, err := geocloak(t, "run", "--config", cityConfig, "--log-format", "json")
	if err == nil || !strings.Contains(err.Error(), "refusing to run with the public development pseudonym key") {
		t.Fatalf("error = %v", err)
	}
	if !errors.Is(err, errReported) {
		t.Errorf("error %v would be printed again by main, as plain text", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var last map[string]any
	for _, l := range lines {
		last = nil
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("stderr line %q is not JSON: %v", l, err)
		}
	}
	if last["level"] != "error" || !strings.Contains(fmt.Sprint(last["error"]), "refusing to run") {
		t.Errorf("last log line %v, want the refusal at level error", last)
	}
	// On a console log main prints the error as text, its lines as they are.
	_, stderr, err = geocloak(t, "run", "--config", cityConfig, "--log-format", "console")
	if err == nil || errors.Is(err, errReported) || strings.Contains(stderr, "geocloak stopped") {
		t.Errorf("console log: error %v (reported: %v), stderr\n%s", err, errors.Is(err, errReported), stderr)
	}
}

func TestRunBadStage(t *testing.T) {
	_, _, err := geocloak(t, "run", "--config", cityConfig, "--stage", "both")
	if err == nil || !strings.Contains(err.Error(), `--stage "both"`) {
		t.Fatalf("error = %v", err)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The operations listener: /healthz while up, /readyz once the stages run, /metrics
// with geocloak's metrics (and no user data: see TestLogCanary for what is printed).
func TestOpsEndpoints(t *testing.T) {
	cfg, err := config.Load(cityConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j, err := newJob(ctx, cfg, zerolog.Nop(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if err := j.serveOps("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	base := "http://" + j.opsAddr
	if code, _ := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the stages run = %d, want 503", code)
	}
	done := make(chan error, 1)
	go func() {
		done <- j.runStages(ctx, pipeline.StageOptions{Key: []byte(testKey), MaxWait: 100 * time.Millisecond}, "all", 10*time.Second)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := httpGet(t, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d after 10s", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, m := range []string{"geocloak_buffered_events", "geocloak_windows_open", "geocloak_late_total", "go_goroutines"} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
