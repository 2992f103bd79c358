package report

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// figureFiles compute the report's figures: what the engine released and what an
// attacker could do with it. They are pure: no HTML, SVG, text formatting or I/O, so
// that every figure can be tested on hand-made inputs and rendered any way. Rendering
// is in html*.go, map*.go, chart*.go, geojson.go, text.go and format.go.
var figureFiles = []string{"report.go", "collect.go", "attack.go", "timeline.go", "localtime.go", "sweep.go", "advice.go", "differencing.go"}

// figureImports are all the figure files may import: "fmt" only for errors and the
// sweep's partner names.
var figureImports = []string{
	"bytes", "cmp", "context", "errors", "fmt", "math", "math/rand/v2", "runtime", "slices", "sync", "time",
	"github.com/geocloak/geocloak/cloak", "github.com/geocloak/geocloak/config", "github.com/geocloak/geocloak/geo",
	"github.com/geocloak/geocloak/report/basemap",
}

// TestFiguresApartFromRendering keeps the attack computations apart from the HTML and
// SVG: a figure file that imports a rendering package, or a rendering helper used in a
// figure file, fails here.
func TestFiguresApartFromRendering(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		figure := slices.Contains(figureFiles, f)
		rendering := strings.HasPrefix(f, "html") || strings.HasPrefix(f, "map") || strings.HasPrefix(f, "chart") ||
			slices.Contains([]string{"geojson.go", "text.go", "format.go"}, f)
		if figure == rendering {
			t.Errorf("%s is neither a figure file nor a rendering file (or both): add it to one list", f)
			continue
		}
		if !figure {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !slices.Contains(figureImports, path) {
				t.Errorf("%s imports %s: figure files compute, they do not render", f, path)
			}
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, helper := range []string{"Thousands(", "Percent(", "share(", "fixed(", "AreaText(", "durationText(", "<svg", "<td", "Sprintf(\"%s%%"} {
			if strings.Contains(string(src), helper) {
				t.Errorf("%s uses %s: figure files compute, they do not render", f, helper)
			}
		}
	}
}
