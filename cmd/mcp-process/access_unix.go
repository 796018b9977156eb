//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"golang.org/x/sys/unix"
)

// childAccess reports whether uid/gid, with no supplementary groups and no
// capabilities, may search every directory down to dir and search and
// write dir itself, by the mode bits (ACLs are not read).
func childAccess(dir string, uid, gid uint32) (enter, write bool, why string) {
	dir = filepath.Clean(dir)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	may := func(p string, want fs.FileMode) (bool, string) {
		fi, err := os.Stat(p)
		if err != nil {
			return false, err.Error()
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return true, ""
		}
		m := fi.Mode().Perm()
		var bits fs.FileMode
		switch {
		case st.Uid == uid:
			bits = m >> 6
		case st.Gid == gid:
			bits = m >> 3
		default:
			bits = m
		}
		if bits&want != want {
			return false, p + " is " + m.String() + " owned by " + strconv.FormatUint(uint64(st.Uid), 10) + ":" + strconv.FormatUint(uint64(st.Gid), 10)
		}
		return true, ""
	}
	for p := dir; ; p = filepath.Dir(p) {
		if ok, why := may(p, 1); !ok {
			return false, false, why
		}
		if p == "/" {
			break
		}
	}
	if ok, why := may(dir, 3); !ok {
		return true, false, why
	}
	return true, true, ""
}

// childMayWrite reports whether the children (owner: another uid; not
// set: the server's own) may create and remove entries in dir: for the
// server's own uid, faccessat(W_OK|X_OK, AT_EACCESS); for another, by the
// mode bits (no supplementary groups, no capabilities, ACLs not read).
func childMayWrite(dir string, owner agenthome.Owner) bool {
	if !owner.Set {
		return unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS) == nil
	}
	_, write, _ := childAccess(dir, owner.UID, owner.GID)
	return write
}

// ownedBy reports whether path (not followed) belongs to uid.
func ownedBy(path string, uid uint32) bool {
	var st syscall.Stat_t
	return syscall.Lstat(path, &st) == nil && st.Uid == uid
}
