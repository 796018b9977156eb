package policy

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSymlinkHops bounds the symlinks followed while resolving one path inside
// a jail (the kernel's MAXSYMLINKS).
const maxSymlinkHops = 40

// view is the filesystem as the child will see it: the host's own (root ""),
// or a chroot jail's (root = the jail's host path, realpath'd). Every path
// the policy resolves goes through a view, so that with enableChroot an
// executable, a working directory, an allowlist entry or a "#!" interpreter
// names a file inside the jail and can never resolve to one outside it.
type view struct {
	// root is the realpath of the jail on the host; "" is the host itself.
	root string
	// noOpenat2 forces the portable component-by-component walk: in a
	// jail resolveInRootWalk, on the host filepath.EvalSymlinks (tests).
	noOpenat2 bool
}

// jailed reports whether paths are resolved inside a jail.
func (v view) jailed() bool { return v.root != "" }

// realpath resolves the absolute path p as seen in the view, following every
// symlink. It returns the resolved path in the view (what the child sees:
// inside the jail it is rooted at the jail) and the host path of the same
// file. In a jail an absolute symlink target is taken relative to the jail
// root and ".." never climbs above it (clamped, as chroot does). A missing
// component is an error satisfying errors.Is(err, fs.ErrNotExist).
func (v view) realpath(p string) (inner, host string, err error) {
	if r, _, ok, err := v.byFd(p, false); ok {
		return r, r, err
	}
	return v.realpathSlow(p)
}

// stat is realpath plus the stat of the resolved file (os.Stat of host):
// err is realpath's error, statErr the stat's.
func (v view) stat(p string) (inner, host string, fi fs.FileInfo, err, statErr error) {
	if r, fi, ok, err := v.byFd(p, true); ok {
		return r, r, fi, err, nil
	}
	if inner, host, err = v.realpathSlow(p); err != nil {
		return "", "", nil, err, nil
	}
	fi, statErr = os.Stat(host)
	return inner, host, fi, nil, statErr
}

// dir is stat for a path that must be a directory: the resolved path in
// the view, whether it is a directory, and realpath's error. On the host
// a directory reached without a symbolic link costs one openat2 and a
// close (resolveHostDir); whatever that cannot answer is resolved and
// stat'ed by stat, for the same answer.
func (v view) dir(p string) (inner string, isDir bool, err error) {
	if !v.jailed() && !v.noOpenat2 {
		if r, isDir, ok, err := resolveHostDir(p); ok {
			return r, isDir, err
		}
	}
	inner, _, fi, err, statErr := v.stat(p)
	if err != nil {
		return "", false, err
	}
	return inner, statErr == nil && fi.IsDir(), nil
}

// byFd resolves on the host by descriptor (resolveHostByFd), which gives
// the stat for free; ok is false when the caller must resolve the slow way
// (in a jail, in tests that force the walk, or when that way has no
// definite answer). The result and the error are the same either way.
func (v view) byFd(p string, withStat bool) (real string, fi fs.FileInfo, ok bool, err error) {
	if v.jailed() || v.noOpenat2 {
		return "", nil, false, nil
	}
	return resolveHostByFd(p, withStat)
}

// realpathSlow is realpath without the host's descriptor way.
func (v view) realpathSlow(p string) (inner, host string, err error) {
	if !v.jailed() {
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", "", err
		}
		return r, r, nil
	}
	if !v.noOpenat2 {
		inner, ok, err := resolveInRootOpenat2(v.root, p)
		if ok {
			if err != nil {
				return "", "", err
			}
			return inner, v.hostPath(inner), nil
		}
	}
	inner, err = resolveInRootWalk(strings.TrimSuffix(v.root, "/"), p)
	if err != nil {
		return "", "", err
	}
	return inner, v.hostPath(inner), nil
}

// hostPath maps a resolved path of the view to the host.
func (v view) hostPath(inner string) string {
	if !v.jailed() {
		return inner
	}
	if inner == "/" {
		return v.root
	}
	return strings.TrimSuffix(v.root, "/") + inner
}

// describe names a resolved path for a message: inside a jail it says so.
func (v view) describe(inner string) string {
	if !v.jailed() {
		return inner
	}
	return inner + " (inside the jail " + v.root + ")"
}

// resolveInRootWalk resolves p beneath root one component at a time, with
// lstat and readlink, the way openat2(RESOLVE_IN_ROOT) does: "." is skipped,
// ".." pops the last resolved component and stops at the root, a symlink's
// target is spliced in front of the remaining components (an absolute target
// restarts at the root). root has no trailing slash ("" is "/"). At most maxSymlinkHops symlinks are followed. The
// result is the resolved path inside the root ("/" for the root itself).
func resolveInRootWalk(root, p string) (string, error) {
	var done []string // resolved components below root, each a real directory but maybe the last
	rest := splitPath(p)
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		next := append(done[:len(done):len(done)], c)
		inner := "/" + strings.Join(next, "/")
		host := root + inner
		fi, err := os.Lstat(host)
		if err != nil {
			return "", pathErr(inner, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			hops++
			if hops > maxSymlinkHops {
				return "", &fs.PathError{Op: "resolve", Path: inner, Err: syscall.ELOOP}
			}
			target, err := os.Readlink(host)
			if err != nil {
				return "", pathErr(inner, err)
			}
			if path.IsAbs(target) {
				done = done[:0]
			}
			rest = append(splitPath(target), rest...)
			continue
		}
		if len(rest) > 0 && !fi.IsDir() {
			return "", &fs.PathError{Op: "resolve", Path: inner, Err: syscall.ENOTDIR}
		}
		done = next
	}
	return "/" + strings.Join(done, "/"), nil
}

// splitPath splits a slash path into its components, dropping empty ones; a
// trailing slash becomes a final "." so that it requires a directory.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		out = append(out, ".")
	}
	return out
}

// pathErr reports err (from a host path) against the path inside the jail.
func pathErr(inner string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: "resolve", Path: inner, Err: pe.Err}
	}
	return &fs.PathError{Op: "resolve", Path: inner, Err: err}
}
