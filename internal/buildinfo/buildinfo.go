// Package buildinfo says which source a binary was built from, from the
// version-control facts the go command stamps into it (go build inside the
// repository, -buildvcs=auto): the same wherever the binary runs, unlike
// asking git in the working directory at run time.
package buildinfo

import (
	"runtime/debug"
)

// Unknown is the revision of a binary built without version-control
// information (go run, go test, a build outside the repository or with
// -buildvcs=false).
const Unknown = "unknown (built without version control information)"

// Revision is the commit the binary was built from, 12 hexadecimal digits,
// with "+dirty" when the tree held changes to tracked files; Unknown when
// the build recorded none.
func Revision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Unknown
	}
	return revision(info.Settings)
}

func revision(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return Unknown
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}
