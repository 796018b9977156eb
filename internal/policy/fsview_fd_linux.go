//go:build linux

package policy

import (
	"io/fs"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resolveHostByFd resolves the absolute path p on the host by descriptor.
// First one openat2(2) with O_PATH and RESOLVE_NO_SYMLINKS: when the
// kernel reaches the file without meeting a symbolic link, the real path
// is p cleaned lexically (without symlinks, "a/b/.." is "a": the kernel
// has just checked that b is a directory), with no readlink. When a
// symlink is in the way (ELOOP), openat2 again without that flag (the
// kernel follows every symlink, as filepath.EvalSymlinks does component
// by component) and a readlink of its /proc/self/fd entry for the real
// path (resolveLinked). Each is a fresh resolution: nothing is cached, so
// a symlink retargeted or a file replaced since the last call is seen.
// Whatever the depth of p (the walk makes one lstat per component), that
// is an openat2 and a close without a symlink; with one, a refused
// openat2, then openat2, readlink and close; with withStat, an fstat of
// the descriptor on top.
// Magic links (/proc/PID/fd/N, .../cwd, .../root) are not followed: the
// kernel refuses them and the caller walks the path instead, as it does
// whenever this way gives no definite answer (no openat2, a seccomp
// filter, no /proc, a path /proc cannot show, any error but "no such
// file"). A missing component gives an error satisfying
// errors.Is(err, fs.ErrNotExist), as the walk's would: the component the
// kernel found missing is reached the same way with or without
// RESOLVE_NO_SYMLINKS, since no symlink came before it.
// With withStat, fi is the stat of the resolved file (what os.Stat would
// return, with *syscall.Stat_t as Sys).
func resolveHostByFd(p string, withStat bool) (real string, fi fs.FileInfo, ok bool, err error) {
	var st *fdStat
	if withStat {
		st = new(fdStat)
	}
	real, ok, missing := resolveFd(p, st)
	switch {
	case !ok:
		return "", nil, false, nil
	case missing:
		return "", nil, true, notFound(p)
	case withStat:
		return real, st, true, nil
	}
	return real, nil, true, nil
}

// resolveFd is resolveHostByFd without an allocation of its own: the
// stat, when st is not nil, is written to *st (its name too), and a
// missing file is missing (ok true) rather than an error value, which the
// caller makes if it shows one.
func resolveFd(p string, st *fdStat) (real string, ok, missing bool) {
	if !path.IsAbs(p) {
		return "", false, false
	}
	fd, err := openPath(p, unix.O_PATH, unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
	switch err {
	case nil:
		return statFd(fd, st, path.Clean(p))
	case unix.ELOOP:
		return resolveLinked(p, unix.O_PATH, st)
	case unix.ENOENT:
		return "", true, true
	}
	return "", false, false
}

// resolveFileByFd is resolveFileIn on the host by descriptor: the file
// and its stat in one allocation, and none for a missing file (the
// searchPath directories that do not hold the name). ok is false when
// the caller must resolve the slow way; the answer is the same either
// way.
func resolveFileByFd(name string) (r *resolved, ok bool, err error) {
	var st fdStat
	real, ok, missing := resolveFd(name, &st)
	switch {
	case !ok:
		return nil, false, nil
	case missing:
		return nil, true, errNoSuchFile
	}
	if m := st.Mode(); !m.IsRegular() || m.Perm()&0o111 == 0 {
		return nil, true, errNotExecutable
	}
	x := &struct {
		r  resolved
		st fdStat
	}{st: st}
	x.r = resolved{real: real, host: real, shown: real, info: &x.st}
	return &x.r, true, nil
}

// resolveLinked is resolveFd for a path with a symbolic link on the
// way: the kernel follows them (openat2 with flags), /proc/self/fd tells
// where it arrived.
func resolveLinked(p string, flags uint64, st *fdStat) (real string, ok, missing bool) {
	fd, err := openPath(p, flags, unix.RESOLVE_NO_MAGICLINKS)
	if err != nil {
		if err == unix.ENOENT {
			return "", true, true
		}
		return "", false, false
	}
	real, ok = procFdPath(fd)
	if !ok {
		unix.Close(fd)
		return "", false, false
	}
	return statFd(fd, st, real)
}

// statFd closes fd, the resolved real path, after an fstat of it into
// *st when st is not nil.
func statFd(fd int, st *fdStat, real string) (string, bool, bool) {
	defer unix.Close(fd)
	if st == nil {
		return real, true, false
	}
	st.name = path.Base(real)
	if syscall.Fstat(fd, &st.sys) != nil {
		return "", false, false
	}
	return real, true, false
}

func notFound(p string) error { return &fs.PathError{Op: "lstat", Path: p, Err: syscall.ENOENT} }

// resolveHostDir is resolveHostByFd for a path that must name a
// directory: whether it is one instead of its stat. Without a symbolic
// link on the way, that is one openat2 with O_PATH|O_DIRECTORY and
// RESOLVE_NO_SYMLINKS, and its close; through one, resolveLinked's with
// O_DIRECTORY too (no fstat).
// Whenever neither gives a definite answer (ENOTDIR, which may be the last
// component or one before it, any other error), ok is false and the
// caller resolves and stats the path as usual, for the same answer and
// the same error message.
func resolveHostDir(p string) (real string, isDir, ok bool, err error) {
	if !path.IsAbs(p) {
		return "", false, false, nil
	}
	fd, err := openPath(p, unix.O_PATH|unix.O_DIRECTORY, unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
	switch err {
	case nil:
		unix.Close(fd)
		return path.Clean(p), true, true, nil
	case unix.ELOOP:
		real, ok, missing := resolveLinked(p, unix.O_PATH|unix.O_DIRECTORY, nil)
		if missing {
			return "", false, true, notFound(p)
		}
		return real, ok, ok, nil
	case unix.ENOENT:
		return "", false, true, notFound(p)
	}
	return "", false, false, nil
}

// openPath is openat2(AT_FDCWD, p) with flags|O_CLOEXEC and resolve,
// retried on EINTR.
func openPath(p string, flags uint64, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolve}
	for {
		fd, err := openat2(p, &how)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// openat2 is unix.Openat2(AT_FDCWD, p, how) without its allocation: p is
// copied, NUL-terminated, into a buffer on the stack when it fits (a
// longer one goes through unix.Openat2). The errors are unix.Openat2's:
// EINVAL for a NUL byte in p, else the call's Errno.
func openat2(p string, how *unix.OpenHow) (int, error) {
	var buf [512]byte
	if len(p) >= len(buf) {
		return unix.Openat2(unix.AT_FDCWD, p, how)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return -1, unix.EINVAL
	}
	copy(buf[:], p) // buf[len(p)] is the NUL
	dirfd := unix.AT_FDCWD
	fd, _, e := unix.Syscall6(unix.SYS_OPENAT2, uintptr(dirfd), uintptr(unsafe.Pointer(&buf[0])),
		uintptr(unsafe.Pointer(how)), unix.SizeofOpenHow, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// procFdPath is the path /proc/self/fd shows for fd, when it is one a
// caller can use: absolute, not cut, not the " (deleted)" of an unlinked
// file (or of a file whose name ends so: the caller walks).
func procFdPath(fd int) (string, bool) {
	var buf [unix.PathMax]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil || n <= 0 || n >= len(buf) || buf[0] != '/' {
		return "", false
	}
	real := string(buf[:n])
	if strings.HasSuffix(real, " (deleted)") {
		return "", false
	}
	return real, true
}

// fdStat is an fstat result as an fs.FileInfo, converted the way os.Stat
// converts it.
type fdStat struct {
	name string
	sys  syscall.Stat_t
}

func (s *fdStat) Name() string       { return s.name }
func (s *fdStat) Size() int64        { return s.sys.Size }
func (s *fdStat) ModTime() time.Time { return time.Unix(s.sys.Mtim.Unix()) }
func (s *fdStat) IsDir() bool        { return s.Mode().IsDir() }
func (s *fdStat) Sys() any           { return &s.sys }

func (s *fdStat) Mode() fs.FileMode {
	m := fs.FileMode(s.sys.Mode & 0o777)
	switch s.sys.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if s.sys.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.sys.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.sys.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
