package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildInfo(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201143750-fd3552446bcb+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "fd3552446bcbf8d0e1b974b40e226549b957ab42"},
			{Key: "vcs.time", Value: "2026-12-01T14:37:50Z"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		name                   string
		bi                     *debug.BuildInfo
		version, revision, vcs string
		want                   buildInfo
	}{
		{"stamped by go build", stamped, "", "", "",
			buildInfo{"v0.0.0-20261201143750-fd3552446bcb+dirty", "fd3552446bcbf8d0e1b974b40e226549b957ab42", "2026-12-01T14:37:50Z", true, "go1.26.8"}},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "", "", "",
			buildInfo{"devel", "unknown", "unknown", false, "go1.26.8"}},
		{"ldflags win", stamped, "v1.2.3", "abc", "2026-01-01T00:00:00Z",
			buildInfo{"v1.2.3", "abc", "2026-01-01T00:00:00Z", true, "go1.26.8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := buildInfoFrom(tt.bi, tt.version, tt.revision, tt.vcs); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if s := tests[0].want.String(); !strings.HasPrefix(s, "geocloak v0.0.0-20261201143750-fd3552446bcb+dirty (revision fd3552446bcbf8d0e1b974b40e226549b957ab42, 2026-12-01T14:37:50Z, modified) go1.26.8 ") {
		t.Errorf("version line %q", s)
	}
	stdout, _, err := geocloak(t, "version")
	if err != nil || !strings.HasPrefix(stdout, "geocloak ") || !strings.Contains(stdout, "(revision ") {
		t.Errorf("geocloak version = %q, %v", stdout, err)
	}
}
