package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// Where the policy's files may lie (SPEC 7.1a). A file sealed read-only in
// a child's view (a bind mount onto itself) stays sealed only while the
// host keeps that dentry: when the server renames over it (the audit head,
// every second; the live log at rotation) the kernel detaches the seal in
// every child's namespace, and a child that may write a directory above it
// renames that directory and puts its own file in its place. So the seal
// is not what keeps the policy out of reach: the placement is. With
// Landlock, no policy file may lie in or beneath a directory the children
// may write (the start is refused, naming the file, the directory and the
// ways out); without it, what a child of the same uid can replace is named
// among the missing guarantees.

// writableDir is a directory Landlock lets the children write beneath,
// and why.
type writableDir struct{ path, why string }

// landlockWritable lists where Landlock lets the children write (the
// stage's write rules): the allowed working directories, writablePaths,
// the agents' homes, and the host's /tmp and /dev/shm where the children
// do not get their own.
func landlockWritable(iso *sandbox.Isolation, pol *policy.Policy) []writableDir {
	var w []writableDir
	for _, d := range iso.Dirs {
		w = append(w, writableDir{d, "an allowed working directory (allowedWorkingDirectories)"})
	}
	for _, d := range iso.WritablePaths {
		w = append(w, writableDir{d, "writablePaths"})
	}
	if root := pol.HomesRoot(); root != "" {
		w = append(w, writableDir{root, "the agents' HOME directories (beneath the state directory: XDG_STATE_HOME)"})
	}
	if iso.Root == "" && iso.Landlock {
		for _, d := range []string{"/tmp", "/dev/shm"} {
			if !slices.Contains(iso.Private, d) && !(d == "/tmp" && iso.ReadOnly) {
				w = append(w, writableDir{d, d + ", the host's own: the children have no private view here"})
			}
		}
	}
	return w
}

// childWritable lists the paths of landlockWritable.
func childWritable(iso *sandbox.Isolation, pol *policy.Policy) []string {
	return writablePaths(landlockWritable(iso, pol))
}

// placePolicyFiles refuses the start (exit 2) when Landlock confines the
// children's writes and one of the policy's files lies in or beneath a
// directory they may write, whatever the mount namespace and the
// children's uid.
func placePolicyFiles(cfg *config.Config, iso *sandbox.Isolation, pol *policy.Policy) error {
	if !iso.Landlock {
		return nil
	}
	writable := landlockWritable(iso, pol)
	for _, f := range policyFilesOf(cfg) {
		dir := existingAncestor(filepath.Dir(f.path))
		if f.stable && len(iso.Private) > 0 && sealHolds(dir, writable) {
			continue
		}
		for _, w := range writable {
			if insideAny(dir, []string{w.path}) {
				return exitf(2, "%s: %s lies inside %s, where the children may write (%s): a child could replace it, or rename a directory above it, even where it is sealed read-only in its view (the seal is lost when the file is renamed over, as the audit head is every second), and so change the policy (SPEC 7.1a); move it out of every directory the children may write (the allowed working directories, writablePaths, the agents' homes), or take %s out of that list",
					f.what, f.path, w.path, w.why, w.path)
			}
		}
	}
	return nil
}

// sealHolds reports whether a policy file the server never renames over
// (the config file, its own binary) in dir keeps its read-only seal
// although the children may write dir: dir is itself one of writable (a
// directory Landlock's rules start at, as `mcp-process init` writes
// ./mcp-process-config.json in the allowed working directory, and as the
// README's first command builds ./mcp-process there), and its parent is
// not in or beneath any of them. Then a child can neither rename the file
// (a mount point in its view: EBUSY) nor dir (Landlock refuses it in the
// parent): only someone who replaces it on the host (an editor that saves
// by a rename, a git checkout, a new build) loses the seal for the
// children then running.
func sealHolds(dir string, writable []writableDir) bool {
	root := false
	for _, w := range writable {
		real := w.path
		if r, err := filepath.EvalSymlinks(real); err == nil {
			real = r
		}
		if filepath.Clean(real) == dir {
			root = true
		}
	}
	return root && !insideAny(filepath.Dir(dir), writablePaths(writable))
}

// writablePaths lists the paths of writable.
func writablePaths(writable []writableDir) []string {
	var out []string
	for _, w := range writable {
		out = append(out, w.path)
	}
	return out
}

// exposedPolicyFiles names, where Landlock does not confine the children's
// writes, the policy's files a child could replace (exposedAt). "" when
// none.
func exposedPolicyFiles(cfg *config.Config, iso *sandbox.Isolation) string {
	if iso.Landlock {
		return ""
	}
	owner := iso.HomeOwner()
	var exposed []string
	for _, f := range policyFilesOf(cfg) {
		if d := exposedAt(f.path, owner); d != "" {
			exposed = append(exposed, fmt.Sprintf("%s %s (%s is writable by them)", f.what, f.path, d))
		}
	}
	if len(exposed) == 0 {
		return ""
	}
	why := "landlock is false"
	if _, err := hostfeat.LandlockABI(); err != nil {
		why = "this host has no Landlock (" + err.Error() + ")"
	}
	who := "the server's own uid " + strconv.Itoa(os.Geteuid())
	fix := "set landlock to true, or run the server as root (its children then run as runAsUser, 65534 by default)"
	if owner.Set {
		who = "uid " + strconv.FormatUint(uint64(owner.UID), 10)
		fix = "set landlock to true, or move the files where uid " + strconv.FormatUint(uint64(owner.UID), 10) + " cannot write"
	}
	if why != "landlock is false" {
		fix = strings.Replace(fix, "set landlock to true", "run on a kernel with Landlock", 1)
	}
	return "the policy's files out of the children's reach (SPEC 7.1a): " + why + " and the children run as " + who +
		", so a child can replace these, or rename a directory above them, whatever their read-only seal: " +
		strings.Join(exposed, "; ") + "; " + fix
}

// exposedAt returns the first directory at or above path in which the
// children (owner; not set: the server's uid) may replace the entry that
// leads to path ("" when none): one they may write, unless it is sticky
// (as /tmp) and neither it nor that entry is theirs. An entry that does
// not exist yet they may create.
func exposedAt(path string, owner agenthome.Owner) string {
	uid := uint32(os.Geteuid())
	if owner.Set {
		uid = owner.UID
	}
	entry := filepath.Clean(path)
	for d := filepath.Dir(entry); ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && childMayWrite(d, owner) {
			ours := ownedBy(d, uid) || ownedBy(entry, uid)
			if _, err := os.Lstat(entry); err != nil || st.Mode()&os.ModeSticky == 0 || ours {
				return d
			}
		}
		if d == "/" {
			return ""
		}
		entry = d
	}
}
