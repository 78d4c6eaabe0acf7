package app

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// versionCmd runs `jetsse version`: the build's version (linkerVersion when
// the build set one, else the main module's version from the build info,
// "(devel)" for a build from a working tree without one), the VCS revision
// when the build recorded it, and the Go version and platform.
func versionCmd(w io.Writer, linkerVersion string) error {
	version, goVersion, vcs := "(devel)", runtime.Version(), ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		vcs = vcsLine(bi.Settings)
	}
	if linkerVersion != "" {
		version = linkerVersion
	}
	var b strings.Builder
	fmt.Fprintf(&b, "jetsse %s\n", version)
	if vcs != "" {
		fmt.Fprintf(&b, "%s\n", vcs)
	}
	fmt.Fprintf(&b, "%s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	_, err := io.WriteString(w, b.String())
	return err
}

// vcsLine describes the revision the build info recorded ("" if none):
// "revision 1a2b3c4 (modified) 2026-01-02T03:04:05Z".
func vcsLine(settings []debug.BuildSetting) string {
	var rev, at, modified string
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	if rev == "" {
		return ""
	}
	line := "revision " + rev + modified
	if at != "" {
		line += " " + at
	}
	return line
}
