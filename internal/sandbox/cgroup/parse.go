//go:build linux

package cgroup

import (
	"bytes"
	"path"
	"strings"
)

// mountEntry is one cgroup or cgroup2 line of /proc/self/mountinfo.
type mountEntry struct {
	Root  string   // root of the mount inside its hierarchy ("/" unless bind-mounted)
	Point string   // mount point
	V2    bool     // fstype cgroup2
	Ctrls []string // v1: controllers and name=... from the super options
}

func (m mountEntry) has(ctrl string) bool {
	for _, c := range m.Ctrls {
		if c == ctrl {
			return true
		}
	}
	return false
}

// parseMountInfo returns the cgroup and cgroup2 mounts of a mountinfo file,
// in file order.
func parseMountInfo(data []byte) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(string(data), "\n") {
		// id parent maj:min root point opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			continue
		}
		e := mountEntry{Root: unescapeMount(f[3]), Point: unescapeMount(f[4])}
		switch g[0] {
		case "cgroup2":
			e.V2 = true
		case "cgroup":
			if len(g) >= 3 {
				for _, o := range strings.Split(g[2], ",") {
					switch {
					case o == "rw" || o == "ro" || o == "noprefix" || o == "clone_children" ||
						o == "xattr" || o == "cpuset_v2_mode" || o == "none" ||
						strings.HasPrefix(o, "release_agent="):
					default:
						e.Ctrls = append(e.Ctrls, o)
					}
				}
			}
		default:
			continue
		}
		out = append(out, e)
	}
	return out
}

// unescapeMount undoes the octal escapes (\040 for space, ...) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// procCgroup is a parsed /proc/self/cgroup.
type procCgroup struct {
	V2    string            // path in the v2 hierarchy ("0::<path>"), "" if none
	HasV2 bool              // a "0::" line exists
	V1    map[string]string // controller (or name=...) -> path
}

func parseProcCgroup(data []byte) procCgroup {
	pc := procCgroup{V1: map[string]string{}}
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		parts := strings.SplitN(string(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			pc.HasV2, pc.V2 = true, parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c != "" {
				pc.V1[c] = parts[2]
			}
		}
	}
	return pc
}

// groupDir maps the server's path inside a hierarchy to a directory under
// the mount. ok is false when the path is not visible through this mount.
func groupDir(m mountEntry, own string) (string, bool) {
	own = path.Clean("/" + own)
	root := path.Clean("/" + m.Root)
	switch {
	case root == "/":
		return path.Join(m.Point, own), true
	case own == root:
		return m.Point, true
	case strings.HasPrefix(own, root+"/"):
		return path.Join(m.Point, own[len(root):]), true
	}
	return "", false
}
