package cli

import (
	"fmt"
	"runtime/debug"
)

// version describes the build for --version: the module version, or for a
// build from a source tree its VCS revision (with "+dirty" when the tree
// had local changes), the Go version, and the DP library's version, which
// is what calibrates the noise.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	return versionOf(bi)
}

// versionOf formats bi for version.
func versionOf(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		v = rev + dirty
	}
	if v == "" {
		v = "(devel)"
	}
	dpVersion := "unknown"
	for _, d := range bi.Deps {
		if d.Path == "github.com/google/differential-privacy/go/v2" {
			dpVersion = d.Version
		}
	}
	return fmt.Sprintf("%s (%s, differential-privacy/go %s)", v, bi.GoVersion, dpVersion)
}
