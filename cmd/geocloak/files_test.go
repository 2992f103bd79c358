package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Files named by flags are created with the folders above them.
func TestOutputFoldersCreated(t *testing.T) {
	t.Setenv("GEOCLOAK_PSEUDONYM_KEY", testKey)
	dir := t.TempDir()
	in := filepath.Join(dir, "new", "synth", "city.jsonl")
	if _, _, err := geocloak(t, "synth", "--users", "50", "--days", "1", "--out", in); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, "a", "b", "audit.jsonl")
	geojson := filepath.Join(dir, "c", "cells.geojson")
	out := filepath.Join(dir, "d", "e")
	if _, stderr, err := geocloak(t, "evaluate", "--config", cityConfig, "--input", in, "--quiet",
		"--out", out, "--audit", audit, "--geojson", geojson); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, p := range []string{in, audit, geojson, filepath.Join(out, "acme-ads.jsonl")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if _, err := createFile(filepath.Join(in, "x")); err == nil {
		t.Error("a folder under a file was made")
	}
}
