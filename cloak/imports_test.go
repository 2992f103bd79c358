package cloak

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The package map, enforced: what each package may import (directly) and may not reach
// (through any dependency). The release engine, this package, reaches no Kafka client,
// no metrics, no logging and no network, so that the compiler keeps it pure; it imports
// only the standard library, config, geo and the differential-privacy library.
var layout = []struct {
	pkg string
	// allowed direct imports outside the standard library (prefixes); nil: any
	allowed []string
	// forbidden anywhere among the dependencies (prefixes)
	forbidden []string
}{
	{"github.com/geocloak/geocloak/cloak",
		[]string{"github.com/geocloak/geocloak/config", "github.com/geocloak/geocloak/geo", "github.com/google/differential-privacy/"},
		[]string{"github.com/segmentio/", "github.com/prometheus/", "github.com/rs/zerolog", "github.com/twmb/", "net/http",
			"github.com/geocloak/geocloak/pipeline", "github.com/geocloak/geocloak/report", "github.com/geocloak/geocloak/synth"}},
	{"github.com/geocloak/geocloak/config",
		[]string{"go.yaml.in/yaml/", "golang.org/x/text/", "github.com/google/differential-privacy/"},
		[]string{"github.com/segmentio/", "github.com/uber/h3-go", "github.com/geocloak/geocloak/"}},
	{"github.com/geocloak/geocloak/geo",
		[]string{"github.com/uber/h3-go/"},
		[]string{"github.com/segmentio/", "github.com/rs/zerolog", "github.com/prometheus/", "github.com/geocloak/geocloak/"}},
	{"github.com/geocloak/geocloak/synth", []string{}, []string{"github.com/"}},
	{"github.com/geocloak/geocloak/report",
		[]string{"github.com/geocloak/geocloak/cloak", "github.com/geocloak/geocloak/config", "github.com/geocloak/geocloak/geo",
			"github.com/geocloak/geocloak/report/basemap"},
		[]string{"github.com/segmentio/", "github.com/prometheus/", "github.com/rs/zerolog", "github.com/geocloak/geocloak/pipeline"}},
	{"github.com/geocloak/geocloak/pipeline", nil, []string{"github.com/geocloak/geocloak/report", "github.com/geocloak/geocloak/cmd"}},
}

type listed struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

func TestLayout(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", "github.com/geocloak/geocloak/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := make(map[string]listed)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	for _, rule := range layout {
		p, ok := pkgs[rule.pkg]
		if !ok {
			t.Errorf("package %s not found", rule.pkg)
			continue
		}
		for _, imp := range p.Imports {
			if rule.allowed == nil || !strings.Contains(strings.Split(imp, "/")[0], ".") {
				continue // standard library, or anything allowed
			}
			if !hasPrefix(imp, rule.allowed) {
				t.Errorf("%s imports %s: only %v may be imported there", rule.pkg, imp, rule.allowed)
			}
		}
		for _, dep := range p.Deps {
			if hasPrefix(dep, rule.forbidden) {
				t.Errorf("%s depends on %s, which it must not reach", rule.pkg, dep)
			}
		}
	}
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == strings.TrimSuffix(p, "/") || strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
