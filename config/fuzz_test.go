package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// schemaPaths lists every key path of t, as Validate names them, with list indices
// written "[]": kafka, kafka.brokers, kafka.brokers[], partners[].dp.epsilon, ...
func schemaPaths(t reflect.Type, path string, out map[string]bool) {
	_, fields := yamlKeys(t)
	for k := range fields { // removed keys too: decoded, then refused by their path
		p := join(path, k)
		out[p] = true
		ft := fields[k]
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != timeType:
			schemaPaths(ft, p, out)
		case ft.Kind() == reflect.Slice:
			out[p+"[]"] = true
			if ft.Elem().Kind() == reflect.Struct {
				schemaPaths(ft.Elem(), p+"[]", out)
			}
		}
	}
}

var (
	// The strict pass: "<key path> (line N): ...", where the path may hold any key the
	// file has, known or not.
	strictProblem = regexp.MustCompile(`^(.+?) \(line \d+\): `)
	listIndex     = regexp.MustCompile(`\[\d+\]`)
)

// namesKeyPath reports whether a configuration error names where the problem is: a
// key path, or "parse yaml" for a file that is not one YAML document.
func namesKeyPath(msg string, paths map[string]bool) bool {
	if strings.HasPrefix(msg, "parse yaml") || strictProblem.MatchString(msg) {
		return true
	}
	// Validate: "<key path>: <value> <rule>".
	path, _, ok := strings.Cut(msg, ": ")
	return ok && paths[listIndex.ReplaceAllString(path, "[]")]
}

// problems splits a joined error into its messages.
func problems(err error) []string {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// FuzzParse: Parse never panics; it is deterministic (twice the same bytes give the same
// error, or configurations that are DeepEqual once valid); and every problem Parse or
// Validate reports names its key path, or says the file is not YAML ("parse yaml"), so
// that a reviewer can find it.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "{}", "~", "kafka:", "partners: [{name: a, topic: t.a}]",
		"window: {size: 30m}\npartners:\n  - {name: a, topic: t.a, mode: counts, dp: {epsilon: 1, delta: 1e-6}}\n",
		"partners:\n  - &p {name: a, topic: t.a}\n  - *p\n",
		"input: {not_before: 2000-01-01T00:00:00Z, max_future: 1h, max_record_bytes: 256}\npartners: [{name: a, topic: t.a}]\n",
		"kafka: {brokers: ['b:9092'], tls: {enabled: true}, sasl: {mechanism: PLAIN, username: u, password_env: P}}\n",
		"partners: [{name: a, topic: t.a, k: 0x10, fields: [cell, pid], pid_rotation: 48h}]\n",
		"taxonomy: testdata/small-taxonomy.yaml\npartners: [{name: a, topic: t.a, release_sensitive_groups: [secret]}]\n",
		"cell_resolution: 9\npartners: [{name: a, topic: t.a, max_resolution: 9, suppress_categories: [food]}, {name: b, topic: t.b, mode: counts, k: 20}]\n",
		"a: 1\n---\nb: 2\n",
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "example.yaml", "../testdata/city.yaml", "../testdata/generalization.yaml", "../deploy/geocloak.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, string(data))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	paths := make(map[string]bool)
	schemaPaths(reflect.TypeOf(Config{}), "", paths)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		again, err2 := Parse(data)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Parse is not deterministic: %v, then %v", err, err2)
		}
		if err == nil {
			err = cfg.Validate()
			again.Validate() // loads the same taxonomy, so that the two compare
			if err == nil && !reflect.DeepEqual(cfg, again) {
				t.Fatalf("Parse is not deterministic:\n%+v\n%+v", cfg, again)
			}
		}
		if err == nil {
			return
		}
		for _, msg := range problems(err) {
			if !namesKeyPath(msg, paths) {
				t.Fatalf("problem %q names no key path (input %q)", msg, data)
			}
		}
	})
}
