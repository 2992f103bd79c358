package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The strict pass walks the YAML tree beside the Go type before anything is decoded, so
// that every unknown key, duplicate key and wrongly typed value is reported at once, each
// with its key path and line. yaml.v3's own KnownFields stops at the first problem and
// does not reach into custom unmarshalers (Partner's).

var (
	durationType = reflect.TypeOf(Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
)

func typeOf(v any) reflect.Type { return reflect.TypeOf(v).Elem() }

// yamlKeys lists the YAML keys of a struct type, in declaration order.
func yamlKeys(t reflect.Type) ([]string, map[string]reflect.Type) {
	var keys []string
	fields := make(map[string]reflect.Type)
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if f.Tag.Get("geocloak") != "removed" { // decoded, to be refused with a reason; never offered
			keys = append(keys, name)
		}
		fields[name] = f.Type
	}
	return keys, fields
}

// join appends a key to a path. A key that is not a plain name (spaces, newlines, dots,
// brackets, quotes, empty) is quoted, so that every path stays one readable line.
func join(path, key string) string {
	if !plainKey.MatchString(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func problem(n *yaml.Node, path, format string, args ...any) error {
	if path == "" {
		path = "document"
	}
	return fmt.Errorf("%s (line %d): %s", path, n.Line, fmt.Sprintf(format, args...))
}

// decodes reports whether the scalar n decodes into a value of type T: an explicit tag
// (!!int x) or an out-of-range number would otherwise fail later, without a key path.
func decodes[T any](n *yaml.Node) bool {
	var v T
	return n.Decode(&v) == nil
}

func checkNode(n *yaml.Node, t reflect.Type, path string) []error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		// An empty value ("kafka:") keeps the defaults, except where a value is required.
		switch t {
		case durationType, timeType:
			return []error{problem(n, path, "a value is required")}
		}
		return nil
	}
	switch {
	case t == durationType:
		if _, err := parseDuration(n); err != nil {
			return []error{problem(n, path, "%v", err)}
		}
		return nil
	case t == timeType:
		if n.Kind != yaml.ScalarNode {
			return []error{problem(n, path, "must be an RFC 3339 time, such as 2000-01-01T00:00:00Z")}
		}
		if _, err := time.Parse(time.RFC3339, n.Value); err != nil || !decodes[time.Time](n) {
			return []error{problem(n, path, "%q must be an RFC 3339 time, such as 2000-01-01T00:00:00Z", n.Value)}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkNode(n, t.Elem(), path)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") || !decodes[float64](n) {
			return []error{problem(n, path, "%q must be a number", n.Value)}
		}
		return nil
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return []error{problem(n, path, "must be a mapping of keys to values")}
		}
		keys, fields := yamlKeys(t)
		var errs []error
		seen := make(map[string]bool)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				kp := "(key)"
				if path != "" {
					kp = path + ".(key)"
				}
				errs = append(errs, problem(k, kp, "a key must be a plain name, not a list or a mapping"))
				continue
			}
			kp := join(path, k.Value)
			if seen[k.Value] {
				errs = append(errs, problem(k, kp, "duplicate key"))
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, problem(k, kp, "unknown key (known keys here: %s)", strings.Join(keys, ", ")))
				continue
			}
			errs = append(errs, checkNode(v, ft, kp)...)
		}
		return errs
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return []error{problem(n, path, "must be a list")}
		}
		var errs []error
		for i, e := range n.Content {
			ep := fmt.Sprintf("%s[%d]", path, i)
			if e.Kind == yaml.ScalarNode && e.Tag == "!!null" {
				errs = append(errs, problem(e, ep, "must not be empty"))
				continue
			}
			errs = append(errs, checkNode(e, t.Elem(), ep)...)
		}
		return errs
	case reflect.String:
		// !!binary would decode base64 into the value: a name must read as written.
		if n.Kind != yaml.ScalarNode || n.Tag == "!!binary" || !decodes[string](n) {
			return []error{problem(n, path, "must be a plain string")}
		}
		return nil
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || !decodes[int](n) {
			return []error{problem(n, path, "%q must be an integer (64-bit)", n.Value)}
		}
		return nil
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || !decodes[bool](n) {
			return []error{problem(n, path, "%q must be true or false", n.Value)}
		}
		return nil
	}
	panic(fmt.Sprintf("config: no strict check for %v at %s", t, path)) // a programming error
}

// knownKeys is used by tests to keep example.yaml and the schema in step.
func knownKeys(t reflect.Type) []string {
	keys, _ := yamlKeys(t)
	return slices.Clone(keys)
}
