package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/geocloak/geocloak/config"
)

// composeService is the part of a Compose service the test reads.
type composeService struct {
	Image       string
	Entrypoint  []string
	Command     []string
	Environment map[string]string
	DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
	Healthcheck struct{ Test []string }
	Volumes     []string
	MemLimit    string `yaml:"mem_limit"`
}

// script is what a service's `sh -c` or `bash -c` runs, with Compose's $$ escapes undone.
func (s composeService) script(t *testing.T, name string) (shell, text string) {
	t.Helper()
	if len(s.Entrypoint) != 2 || s.Entrypoint[1] != "-c" || len(s.Command) != 1 {
		t.Fatalf("%s: want entrypoint [SHELL, -c] and one command string, got %q %q", name, s.Entrypoint, s.Command)
	}
	return s.Entrypoint[0], strings.ReplaceAll(s.Command[0], "$$", "$")
}

// The compose file, read without a Docker engine: the key is checked for 16 bytes before
// geocloak starts (the check service's script is run here with a plain shell), Kafka keeps
// its data in a volume, the topics of deploy/geocloak.yaml are created by an init step
// with the config's partition counts, and the stages wait for both, check /readyz and
// have memory limits.
func TestCompose(t *testing.T) {
	var f struct {
		Services map[string]composeService
		Volumes  map[string]any
	}
	if err := yaml.Unmarshal(must(os.ReadFile("../../docker-compose.yml")), &f); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kafka", "kafka-init", "key-check", "geocloak-ingest", "geocloak-cloak"} {
		if _, ok := f.Services[name]; !ok {
			t.Fatalf("no service %s", name)
		}
		if f.Services[name].MemLimit == "" {
			t.Errorf("%s has no mem_limit", name)
		}
	}

	// The key check fails exactly when geocloak would refuse the key, and never prints it.
	shell, check := f.Services["key-check"].script(t, "key-check")
	for _, key := range []string{"", "short", "fifteen-bytes!!", "sixteen-bytes!!!", "ééééééééé", "0123456789abcdef0123"} {
		cmd := exec.Command("/bin/sh", "-c", check)
		if !strings.HasSuffix(shell, "/sh") {
			t.Fatalf("key-check runs %s; this test runs it with /bin/sh", shell)
		}
		cmd.Env = []string{"GEOCLOAK_PSEUDONYM_KEY=" + key, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if ok := len(key) >= config.MinKeyBytes; (err == nil) != ok {
			t.Errorf("key of %d bytes: check passed = %v, geocloak accepts it = %v\n%s", len(key), err == nil, ok, out)
		}
		if !strings.Contains(string(out), fmt.Sprintf("%d bytes", len(key))) {
			t.Errorf("key of %d bytes: the check does not say its length:\n%s", len(key), out)
		}
		if len(key) > 0 && strings.Contains(string(out), key) {
			t.Errorf("the check prints the key: %s", out)
		}
	}

	// Kafka's data in a named volume, where the broker writes its log.
	kafka := f.Services["kafka"]
	dataDir := kafka.Environment["KAFKA_LOG_DIRS"]
	if !slices.Contains(kafka.Volumes, "kafka-data:"+dataDir) || f.Volumes == nil || !slices.Contains(slices.Collect(maps.Keys(f.Volumes)), "kafka-data") {
		t.Errorf("kafka: no volume kafka-data at KAFKA_LOG_DIRS %q: %q", dataDir, kafka.Volumes)
	}

	// The init step creates the config's topics with its partition counts: run its script
	// with a stand-in for kafka-topics.sh that records what it is asked.
	cfg, err := config.Load("../../deploy/geocloak.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		cfg.Kafka.InputTopic:      fmt.Sprint(cfg.Kafka.Partitions.Input),
		cfg.Kafka.InternalTopic:   fmt.Sprint(cfg.Kafka.Partitions.Internal),
		cfg.Kafka.DeadLetterTopic: fmt.Sprint(cfg.Kafka.Partitions.Input),
	}
	for _, p := range cfg.Partners {
		want[p.Topic] = fmt.Sprint(cfg.Kafka.Partitions.Partner)
	}
	dir := t.TempDir()
	stub, calls := filepath.Join(dir, "kafka-topics.sh"), filepath.Join(dir, "calls")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	shell, initScript := f.Services["kafka-init"].script(t, "kafka-init")
	if !strings.Contains(initScript, "/opt/kafka/bin/kafka-topics.sh") {
		t.Fatalf("kafka-init does not run kafka-topics.sh:\n%s", initScript)
	}
	cmd := exec.Command("bash", "-c", strings.ReplaceAll(initScript, "/opt/kafka/bin/kafka-topics.sh", stub))
	if !strings.HasSuffix(shell, "bash") {
		t.Fatalf("kafka-init runs %s; this test runs it with bash", shell)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kafka-init script: %v\n%s", err, out)
	}
	got := make(map[string]string)
	arg := regexp.MustCompile(`--topic (\S+) --partitions (\S+) --replication-factor 1$`)
	for _, l := range strings.Split(strings.TrimSpace(string(must(os.ReadFile(calls)))), "\n") {
		m := arg.FindStringSubmatch(l)
		if m == nil || !strings.Contains(l, "--bootstrap-server kafka:9092 --create --if-not-exists") {
			t.Errorf("kafka-init: unexpected call %q", l)
			continue
		}
		got[m[1]] = m[2]
	}
	if !maps.Equal(got, want) {
		t.Errorf("kafka-init creates %v; deploy/geocloak.yaml needs %v", got, want)
	}

	for _, name := range []string{"geocloak-ingest", "geocloak-cloak"} {
		s := f.Services[name]
		for dep, cond := range map[string]string{"kafka": "service_healthy", "kafka-init": "service_completed_successfully",
			"key-check": "service_completed_successfully"} {
			if s.DependsOn[dep].Condition != cond {
				t.Errorf("%s: depends_on %s: condition %q, want %q", name, dep, s.DependsOn[dep].Condition, cond)
			}
		}
		if !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "GET /readyz ") {
			t.Errorf("%s: the healthcheck does not ask /readyz: %q", name, s.Healthcheck.Test)
		}
		if s.Environment["GOMEMLIMIT"] == "" || s.Environment["GEOCLOAK_PSEUDONYM_KEY"] == "" {
			t.Errorf("%s: environment %v lacks GOMEMLIMIT or the key", name, s.Environment)
		}
	}
}
