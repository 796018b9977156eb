//go:build linux

package policy

import (
	"io/fs"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// resolveHostByFd resolves the absolute path p on the host by descriptor:
// one openat2(2) with O_PATH (the kernel follows every symlink, as
// filepath.EvalSymlinks does component by component), an fstat of the
// result and a readlink of its /proc/self/fd entry for the real path. That
// is three or four system calls whatever the depth of p, against one lstat
// per component. Magic links (/proc/PID/fd/N, .../cwd, .../root) are not
// followed: the kernel refuses them and the caller walks the path instead,
// as it does whenever this way gives no definite answer (no openat2, a
// seccomp filter, no /proc, a path /proc cannot show, any error but "no such
// file"). A missing component gives an error satisfying
// errors.Is(err, fs.ErrNotExist), as the walk's would.
// With withStat, fi is the stat of the resolved file (what os.Stat would
// return, with *syscall.Stat_t as Sys).
func resolveHostByFd(p string, withStat bool) (real string, fi fs.FileInfo, ok bool, err error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS}
	var fd int
	for {
		fd, err = unix.Openat2(unix.AT_FDCWD, p, &how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if err == unix.ENOENT {
			return "", nil, true, &fs.PathError{Op: "lstat", Path: p, Err: syscall.ENOENT}
		}
		return "", nil, false, nil
	}
	defer unix.Close(fd)
	var st *fdStat
	if withStat {
		st = new(fdStat)
		if syscall.Fstat(fd, &st.sys) != nil {
			return "", nil, false, nil
		}
	}
	var buf [unix.PathMax]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil || n <= 0 || n >= len(buf) || buf[0] != '/' {
		return "", nil, false, nil
	}
	real = string(buf[:n])
	if strings.HasSuffix(real, " (deleted)") {
		// Unlinked meanwhile, or a file whose name ends so: walk.
		return "", nil, false, nil
	}
	if st == nil {
		return real, nil, true, nil
	}
	st.name = path.Base(real)
	return real, st, true, nil
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
