package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geocloak/geocloak/config"
)

// jsonLines parses every line of a log as one JSON object with a time (RFC 3339 with
// milliseconds and zone), a level and a message.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not a JSON object: %v\n%s", err, l)
		}
		ts, _ := m["time"].(string)
		if _, err := time.Parse(logTimeLayout, ts); err != nil || !strings.HasPrefix(l, `{"time":"`) {
			t.Errorf("time %q is not first or not RFC 3339 with milliseconds and zone: %s", ts, l)
		}
		if m["level"] == nil || m["message"] == nil {
			t.Errorf("no level or message: %s", l)
		}
		out = append(out, m)
	}
	return out
}

func TestLogFlags(t *testing.T) {
	tests := []struct {
		name, format, level string
		json, debug, info   bool
		err                 string
	}{
		{name: "defaults off a terminal", format: "auto", level: "info", json: true, info: true},
		{name: "json debug", format: "json", level: "debug", json: true, debug: true, info: true},
		{name: "console", format: "console", level: "info", info: true},
		{name: "warn", format: "json", level: "warn", json: true},
		{name: "bad format", format: "xml", level: "info", err: `--log-format "xml"`},
		{name: "bad level", format: "json", level: "trace", err: `--log-level "trace"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := newLogger(&buf, tt.format, tt.level)
			if tt.err != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want a usage error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Debug().Int("n", 1).Msg("debug line")
			log.Info().Int("n", 2).Msg("info line")
			out := buf.String()
			if got := strings.Contains(out, "debug line"); got != tt.debug {
				t.Errorf("debug shown = %v, want %v:\n%s", got, tt.debug, out)
			}
			if got := strings.Contains(out, "info line"); got != tt.info {
				t.Errorf("info shown = %v, want %v:\n%s", got, tt.info, out)
			}
			if out == "" {
				return
			}
			if tt.json {
				jsonLines(t, out)
				return
			}
			if strings.HasPrefix(out, "{") {
				t.Errorf("console output is JSON: %s", out)
			}
			ts, _, _ := strings.Cut(out, " ")
			if _, err := time.Parse(logTimeLayout, ts); err != nil {
				t.Errorf("console time %q: %v", ts, err)
			}
		})
	}
	// The flags reach the command's logger.
	var buf bytes.Buffer
	if err := run(context.Background(), []string{"synth", "--users", "10", "--days", "1", "--out", filepath.Join(t.TempDir(), "x.jsonl"), "--log-level", "warn"}, &buf, &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "synthetic city written") {
		t.Errorf("--log-level warn shows an info line: %s", buf.String())
	}
}

// run warns at start about every setting config check warns about, one line each, with
// the setting's key.
func TestLogWarnings(t *testing.T) {
	cfg := config.Default()
	cfg.Kafka.TLS.InsecureSkipVerify = true
	cfg.Kafka.SASL.Mechanism = "PLAIN"
	cfg.Partners = []config.Partner{config.DefaultPartner()}
	cfg.Partners[0].MaxCheckinsPerUserPerWindow = 0
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	logWarnings(log, &cfg)
	var keys []string
	for _, l := range jsonLines(t, buf.String()) {
		if l["level"] != "warn" || l["message"] != "config weakens privacy or security" {
			t.Errorf("line %v", l)
		}
		keys = append(keys, l["key"].(string))
	}
	want := []string{"partners[0].max_checkins_per_user_per_window", "kafka.tls.insecure_skip_verify", "kafka.sasl"}
	if len(cfg.Warnings()) != len(want) || !slices.Equal(keys, want) {
		t.Errorf("warned about %q, want %q (config check: %q)", keys, want, cfg.Warnings())
	}
}
