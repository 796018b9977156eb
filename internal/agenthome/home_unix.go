//go:build unix

package agenthome

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Prepare creates root and its missing parents (mode 0711) and checks it:
// a directory, no symbolic link, owned by the server and writable by
// nobody else. The root and its parent (the server's state directory)
// get the search bit for everyone when the children run as another uid;
// every other directory above must already let the owner's uid traverse
// it, or Prepare refuses, naming it.
func Prepare(root string, o Owner) error {
	if !filepath.IsAbs(root) {
		return fmt.Errorf("the agents' homes directory %q is not an absolute path", root)
	}
	root = filepath.Clean(root)
	if err := mkdirs(root); err != nil {
		return err
	}
	euid := uint32(os.Geteuid())
	st, err := lstat(root)
	if err != nil {
		return err
	}
	if uint32(st.Mode)&syscall.S_IFMT != syscall.S_IFDIR {
		return fmt.Errorf("the agents' homes directory %s is not a directory (a symbolic link is not accepted)", root)
	}
	if st.Uid != euid {
		return fmt.Errorf("the agents' homes directory %s is owned by uid %d, not by the server (uid %d): remove it, or run the server as its owner", root, st.Uid, euid)
	}
	if err := chmodDir(root, 0o711); err != nil {
		return fmt.Errorf("the agents' homes directory %s: %v", root, err)
	}
	if !o.Set {
		return nil
	}
	// The state directory may have been created 0700 (the audit log's
	// directory): let the children through it, never list it.
	if parent := filepath.Dir(root); parent != "/" {
		if pst, err := lstat(parent); err == nil && pst.Uid == euid && uint32(pst.Mode)&syscall.S_IFMT == syscall.S_IFDIR && pst.Mode&0o011 != 0o011 {
			if err := chmodDir(parent, uint32(pst.Mode)&0o7777|0o011); err != nil {
				return fmt.Errorf("let the children traverse %s: %v", parent, err)
			}
		}
	}
	for p := root; ; p = filepath.Dir(p) {
		pst, err := stat(p)
		if err != nil {
			return err
		}
		if !may(pst, o, 1) {
			return fmt.Errorf("the children (uid %d, gid %d) cannot reach their HOME under %s: %s is mode %04o owned by %d:%d; set XDG_STATE_HOME for the server to a directory they can traverse (their homes go to $XDG_STATE_HOME/mcp-process/homes), or let them traverse %s (chmod o+x)",
				o.UID, o.GID, root, p, uint32(pst.Mode)&0o7777, pst.Uid, pst.Gid, p)
		}
		if p == "/" {
			return nil
		}
	}
}

// mkdirs creates dir and its missing parents with mode 0711.
func mkdirs(dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the agents' homes directory: %v", err)
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o711); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create the agents' homes directory: %v", err)
	}
	return chmodDir(dir, 0o711) // not the umask's
}

// chmodDir sets the mode of the directory dir, never following a symbolic
// link at its last component (chmod(2) would: a link planted where a
// directory was expected would give its target the mode).
func chmodDir(dir string, mode uint32) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the directory %s (a symbolic link is not accepted): %v", dir, err)
	}
	defer syscall.Close(fd)
	if err := syscall.Fchmod(fd, mode); err != nil {
		return &fs.PathError{Op: "chmod", Path: dir, Err: err}
	}
	return nil
}

// Ensure makes home (a Path beneath a Prepared root) exist as a directory
// of mode 0700 owned by o, creating it on the agent's first launch. The
// root must be a directory owned by the server that no one else may write
// (checked on every call: a root replaced while the server runs is
// refused, not followed).
func Ensure(home string, o Owner) error {
	root := filepath.Dir(home)
	st, err := lstat(root)
	if err != nil {
		return fmt.Errorf("the agents' homes directory %s is missing (removed while the server runs? restart it): %v", root, err)
	}
	if uint32(st.Mode)&syscall.S_IFMT != syscall.S_IFDIR || st.Uid != uint32(os.Geteuid()) || st.Mode&0o022 != 0 {
		return fmt.Errorf("the agents' homes directory %s is no longer a directory only the server may write", root)
	}
	if err := syscall.Mkdir(home, 0o700); err != nil && err != syscall.EEXIST {
		return fmt.Errorf("create the agent's HOME %s: %v", home, err)
	}
	fd, err := syscall.Open(home, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the agent's HOME %s (a symbolic link is not accepted): %v", home, err)
	}
	defer syscall.Close(fd)
	var hs syscall.Stat_t
	if err := syscall.Fstat(fd, &hs); err != nil {
		return fmt.Errorf("stat the agent's HOME %s: %v", home, err)
	}
	if o.Set && (hs.Uid != o.UID || hs.Gid != o.GID) {
		if err := syscall.Fchown(fd, int(o.UID), int(o.GID)); err != nil {
			return fmt.Errorf("give the agent's HOME %s to uid %d gid %d: %v", home, o.UID, o.GID, err)
		}
	}
	if hs.Mode&0o7777 != 0o700 {
		if err := syscall.Fchmod(fd, 0o700); err != nil {
			return fmt.Errorf("chmod 0700 the agent's HOME %s: %v", home, err)
		}
	}
	return nil
}

func lstat(p string) (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return &st, nil
}

func stat(p string) (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	return &st, nil
}

// may reports whether o (no supplementary groups, no capabilities) has
// the want bits on st by its mode (ACLs are not read).
func may(st *syscall.Stat_t, o Owner, want uint32) bool {
	m := uint32(st.Mode) & 0o777
	var bits uint32
	switch {
	case st.Uid == o.UID:
		bits = m >> 6
	case st.Gid == o.GID:
		bits = m >> 3
	default:
		bits = m
	}
	return bits&want == want
}
