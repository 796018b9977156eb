//go:build linux

package policy

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// resolveInRootOpenat2 resolves p beneath root with openat2(2) and
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS: the kernel treats root as "/" for
// absolute symlinks and "..", so nothing resolves outside it. The resolved
// path is read back from /proc/self/fd. ok is false when this way is not
// available here (no openat2, filtered by seccomp, no /proc, or a rename
// race the kernel asks to retry): the caller then walks the path itself.
func resolveInRootOpenat2(root, p string) (inner string, ok bool, err error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false, nil
	}
	defer unix.Close(rootFd)
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	var fd int
	for try := 0; ; try++ {
		fd, err = unix.Openat2(rootFd, p, how)
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, unix.EAGAIN) && try < 3:
			continue
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM), errors.Is(err, unix.EINVAL),
			errors.Is(err, unix.E2BIG), errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EXDEV):
			return "", false, nil
		}
		return "", true, &fs.PathError{Op: "resolve", Path: p, Err: err}
	}
	defer unix.Close(fd)
	got, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", false, nil
	}
	base := strings.TrimSuffix(root, "/") // "" for a jail at "/"
	switch {
	case got == root:
		return "/", true, nil
	case strings.HasPrefix(got, base+"/"):
		return strings.TrimPrefix(got, base), true, nil
	}
	// Not under root as the server sees it (moved meanwhile, or a path
	// /proc cannot show): let the walk decide.
	return "", false, nil
}
