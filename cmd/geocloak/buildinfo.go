package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Set with -ldflags "-X main.buildVersion=... -X main.buildRevision=... -X main.buildTime=..."
// where the build has no VCS information of its own (a source archive, a Docker context
// without .git). They win over what the go command stamped.
var (
	buildVersion  string
	buildRevision string
	buildTime     string
)

// buildInfo is what the binary knows of its own build.
type buildInfo struct {
	Version   string // module version: a tag, a pseudo-version (+dirty when modified), or "devel"
	Revision  string // VCS commit, "unknown" when not stamped
	VCSTime   string // commit time, RFC 3339, "unknown" when not stamped
	Modified  bool   // built from a working tree with uncommitted changes
	GoVersion string
}

func readBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildInfoFrom(bi, buildVersion, buildRevision, buildTime)
}

// buildInfoFrom reads the go command's stamps (bi may be nil), overridden by the
// -ldflags values that are not empty.
func buildInfoFrom(bi *debug.BuildInfo, version, revision, vcsTime string) buildInfo {
	b := buildInfo{Version: "devel", Revision: "unknown", VCSTime: "unknown", GoVersion: runtime.Version()}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.VCSTime = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	if revision != "" {
		b.Revision = revision
	}
	if vcsTime != "" {
		b.VCSTime = vcsTime
	}
	return b
}

// String is what `geocloak version` prints.
func (b buildInfo) String() string {
	mod := ""
	if b.Modified {
		mod = ", modified"
	}
	return fmt.Sprintf("geocloak %s (revision %s, %s%s) %s %s/%s", b.Version, b.Revision, b.VCSTime, mod, b.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// collector is the constant geocloak_build_info metric.
func (b buildInfo) collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "geocloak_build_info",
		Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "revision": b.Revision, "vcs_time": b.VCSTime, "go_version": b.GoVersion,
		},
	})
	g.Set(1)
	return g
}
