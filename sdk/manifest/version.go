package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed semantic version (semver.org 2.0.0).
type Version struct {
	Major, Minor, Patch int
	// Pre is the pre-release part without its "-", e.g. "rc.1".
	Pre string
}

// ParseVersion parses MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]; the build part
// is accepted and dropped, as semver ignores it for precedence.
func ParseVersion(s string) (Version, error) {
	core, _, _ := strings.Cut(s, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("%q is not a semantic version MAJOR.MINOR.PATCH (e.g. 1.0.0)", s)
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" || (len(p) > 1 && p[0] == '0') || strings.ContainsAny(p, "+-") {
			return Version{}, fmt.Errorf("%q is not a semantic version MAJOR.MINOR.PATCH (e.g. 1.0.0): %q is not a number without leading zeros", s, p)
		}
		nums[i] = n
	}
	if hasPre {
		for _, id := range strings.Split(pre, ".") {
			if id == "" || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
				return Version{}, fmt.Errorf("%q has an invalid pre-release part %q", s, pre)
			}
		}
	}
	return Version{Major: nums[0], Minor: nums[1], Patch: nums[2], Pre: pre}, nil
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w,
// by semver precedence.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]int{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			return cmpInt(d[0], d[1])
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	a, b := strings.Split(v.Pre, "."), strings.Split(w.Pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		na, errA := strconv.Atoi(a[i])
		nb, errB := strconv.Atoi(b[i])
		switch {
		case errA == nil && errB == nil:
			return cmpInt(na, nb)
		case errA == nil:
			return -1
		case errB == nil:
			return 1
		}
		return strings.Compare(a[i], b[i])
	}
	return cmpInt(len(a), len(b))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// HostCompatible reports whether a host of the given version may run the
// plugin. A host version that is not a semantic version (a development
// build: "dev", a commit hash) runs everything; a leading "v" is allowed.
func (m Manifest) HostCompatible(hostVersion string) error {
	host, err := ParseVersion(strings.TrimPrefix(hostVersion, "v"))
	if err != nil {
		return nil
	}
	min, err := ParseVersion(m.MinHostVersion)
	if err != nil {
		return fmt.Errorf("plugin %s: min_host_version: %w", m.ID, err)
	}
	if host.Compare(min) < 0 {
		return fmt.Errorf("plugin %s needs Yoyaku %s or newer; this is %s", m.ID, m.MinHostVersion, hostVersion)
	}
	return nil
}
