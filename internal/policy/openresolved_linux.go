//go:build linux

package policy

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// openResolved opens file, a real path the policy has just resolved (no
// symbolic link in it), to read it, refusing any symbolic link on the way
// (openat2 RESOLVE_NO_SYMLINKS): a component swapped for a symlink since
// the resolution (say, to a device node under /dev) fails with ELOOP
// instead of being followed. Where the kernel has no openat2, only the
// last component is refused (O_NOFOLLOW). See readFlags for the rest.
func openResolved(file string) (int, error) {
	how := unix.OpenHow{Flags: readFlags, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := openat2(file, &how)
		switch err {
		case nil:
			return fd, nil
		case unix.EINTR:
			continue
		case unix.ENOSYS, unix.EPERM: // no openat2, or a seccomp filter refusing it
			return openNoFollow(file)
		}
		return -1, &fs.PathError{Op: "open", Path: file, Err: err}
	}
}
