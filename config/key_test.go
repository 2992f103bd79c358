package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The key comes from a file or the environment, never from the config; a short key is
// refused, and the development key is reported as such.
func TestPseudonymKeySources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	os.WriteFile(file, []byte("key-from-a-file-0123456789\n"), 0o600)
	k, err := (Pseudonym{KeyEnv: "GEOCLOAK_TEST_UNSET_VAR", KeyFile: file}).ReadKey()
	if err != nil || string(k) != "key-from-a-file-0123456789" {
		t.Fatalf("key file: %q, %v", k, err)
	}
	t.Setenv("GEOCLOAK_TEST_KEY", "key-from-the-environment-0123")
	if k, err := (Pseudonym{KeyEnv: "GEOCLOAK_TEST_KEY"}).ReadKey(); err != nil || string(k) != "key-from-the-environment-0123" {
		t.Fatalf("key env: %q, %v", k, err)
	}
	t.Setenv("GEOCLOAK_TEST_KEY", "short")
	if _, err := (Pseudonym{KeyEnv: "GEOCLOAK_TEST_KEY"}).ReadKey(); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("short key: %v", err)
	}
	if k, err := (Pseudonym{KeyEnv: "GEOCLOAK_TEST_UNSET_VAR"}).ReadKey(); !errors.Is(err, ErrDevKey) || string(k) != DevPseudonymKey {
		t.Fatalf("unset: %v", err)
	}
	if _, err := (Pseudonym{KeyFile: filepath.Join(dir, "missing")}).ReadKey(); err == nil || !strings.Contains(err.Error(), "pseudonym.key_file") {
		t.Fatalf("missing file: %v", err)
	}
}
