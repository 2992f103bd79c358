package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// createFile creates (or truncates) the file a flag names, and the folders above it.
func createFile(path string) (*os.File, error) {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("make folder for %s: %w", path, err)
		}
	}
	return os.Create(path)
}
