package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Each testdata/*.bad.yaml starts with "# want: ..." lines; every one must appear in the
// error, so a file with several problems proves they are all reported at once.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".bad.yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants, nots []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, w)
				}
				if w, ok := strings.CutPrefix(line, "# not: "); ok {
					nots = append(nots, w)
				}
			}
			if len(wants) == 0 {
				t.Fatal("no # want: lines")
			}
			cfg, err := Parse(data)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q; got:\n%v", w, err)
				}
			}
			for _, w := range nots {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error contains %q; got:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadExample(t *testing.T) {
	cfg, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	def.Partners = []Partner{DefaultPartner()}
	def.Partners[0].Name = "acme-ads"
	def.Partners[0].Topic = "sanitized.acme-ads"
	def.Partners[0].Fields = DefaultFields(ModeEvents)
	def.Partners[0].SuppressCategories = []string{}
	def.Partners[0].ReleaseSensitiveGroups = []string{}
	def.Kafka.Brokers = []string{}
	// The example documents the defaults: loading it must give exactly them, but for the
	// second partner, which shows counts mode with dp.
	if len(cfg.Partners) != 2 || cfg.Partners[1].DP == nil || cfg.Partners[1].DP.Epsilon != 1 || cfg.Partners[1].DP.Delta != 1e-6 {
		t.Fatalf("example.yaml's second partner: %+v", cfg.Partners[1:])
	}
	cfg.Partners = cfg.Partners[:1]
	if !reflect.DeepEqual(cfg, &def) {
		t.Errorf("example.yaml does not state the defaults:\n got %+v\nwant %+v", cfg, &def)
	}
}

// Every key of the schema is documented in example.yaml.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := make(map[string]bool)
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := join(path, n.Content[i].Value)
				have[p] = true
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path+"[]")
			}
		}
	}
	walk(doc.Content[0], "")
	var want func(t reflect.Type, path string) []string
	want = func(t reflect.Type, path string) []string {
		var out []string
		_, fields := yamlKeys(t)
		for _, k := range knownKeys(t) {
			ft := fields[k]
			p := join(path, k)
			out = append(out, p)
			switch {
			case ft.Kind() == reflect.Struct && ft != timeType:
				out = append(out, want(ft, p)...)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				out = append(out, want(ft.Elem(), p+"[]")...)
			}
		}
		return out
	}
	for _, k := range want(reflect.TypeOf(Config{}), "") {
		if k == "partners[].pid_rotation" {
			continue // decoded only to be refused with a reason, not a setting
		}
		if !have[k] {
			t.Errorf("example.yaml does not document %s", k)
		}
	}
}

func TestDefaultsApply(t *testing.T) {
	cfg, err := Parse([]byte("window: {size: 30m}\npartners:\n  - {name: a, topic: t.a, mode: counts}\n  - {name: b, topic: t.b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Window.Size.D(); got != 30*time.Minute {
		t.Errorf("window.size = %v", got)
	}
	if got := cfg.Window.AllowedLateness.D(); got != 5*time.Minute {
		t.Errorf("window.allowed_lateness = %v, want the default 5m", got)
	}
	a, b := cfg.Partners[0], cfg.Partners[1]
	if a.K != 10 || a.MaxResolution != 9 || a.MinResolution != 5 || a.MaxCheckinsPerUserPerWindow != 1 {
		t.Errorf("partner a did not get defaults: %+v", a)
	}
	if !reflect.DeepEqual(a.Fields, DefaultFields(ModeCounts)) {
		t.Errorf("counts partner fields = %v", a.Fields)
	}
	if b.K != 10 || b.MaxCheckinsPerUserPerWindow != 1 || !reflect.DeepEqual(b.Fields, DefaultFields(ModeEvents)) {
		t.Errorf("partner b = %+v", b)
	}
	if cfg.Input.Fields.Time != "ts" || cfg.Kafka.InputTopic != "checkins.raw" {
		t.Errorf("input/kafka defaults lost: %+v %+v", cfg.Input.Fields, cfg.Kafka)
	}
	if cfg.CellResolution != 15 {
		t.Errorf("cell_resolution = %d, want the default 15", cfg.CellResolution)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "read config") {
		t.Fatalf("error = %v", err)
	}
}

// Partners that differ only in how they present one release, and a dp partner at one
// resolution, form a valid set.
func TestPartnerSetAccepted(t *testing.T) {
	cfg, err := Load("testdata/partner_set_dp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Partners[3]; !d.StrictDP() || d.ClassK() != d.K {
		t.Errorf("partner d: StrictDP %v, ClassK %d, want true and k=%d", d.StrictDP(), d.ClassK(), d.K)
	}
	if a := cfg.Partners[0]; a.StrictDP() || a.ClassK() != 10 {
		t.Errorf("partner a: StrictDP %v, ClassK %d", a.StrictDP(), a.ClassK())
	}
}

// A per-user cap other than 1 is warned about, with what it costs: one user may hold
// more than 1/k of a class's records (counts partners show no records to pick).
func TestCapWarnings(t *testing.T) {
	for _, tc := range []struct {
		cap  int
		mode Mode
		want string
	}{
		{0, ModeEvents, "0 lets one user fill many records of a class"},
		{3, ModeEvents, "3 lets one user hold up to 3 records of a class of k users: a record picked from it is that person's with a chance up to 3/12, not 1/k"},
		{3, ModeCounts, ""},
		{1, ModeEvents, ""},
	} {
		cfg := Default()
		cfg.Partners = []Partner{DefaultPartner()}
		p := &cfg.Partners[0]
		p.MaxCheckinsPerUserPerWindow, p.Mode = tc.cap, tc.mode
		var got string
		for _, w := range cfg.Warnings() {
			if strings.HasPrefix(w, "partners[0].max_checkins_per_user_per_window") {
				got = w
			}
		}
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("cap %d, %s: warning %q, want %q", tc.cap, tc.mode, got, tc.want)
		}
	}
}
